"""foobar.webstack.concern_files: the entries a role's one files run writes, chosen by the run's tags."""

import importlib.util
import pathlib

import pytest
from ansible.errors import AnsibleFilterError

ROOT = pathlib.Path(__file__).resolve().parent.parent
_SPEC = importlib.util.spec_from_file_location("webstack_concern_filter", ROOT / "plugins" / "filter" / "concerns.py")
concerns = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(concerns)

BY_CONCERN = {"ssh": [{"path": "/a"}], "firewall": [{"path": "/b"}, {"path": "/c"}], "kernel": []}


@pytest.mark.parametrize("tags", [["all"], ["linux_base"], ["linux_base_configure"], None])
def test_a_run_without_concern_tags_writes_every_concern_in_order(tags):
    assert concerns.concern_files(BY_CONCERN, "linux_base", tags) == [{"path": "/a"}, {"path": "/b"}, {"path": "/c"}]


def test_a_concern_tag_writes_only_that_concern():
    assert concerns.concern_files(BY_CONCERN, "linux_base", ["linux_base_ssh"]) == [{"path": "/a"}]
    assert concerns.concern_files(BY_CONCERN, "linux_base", ["linux_base_firewall", "apache_ssh"]) == [
        {"path": "/b"}, {"path": "/c"}]
    # Another role's tags and its concern names select nothing here.
    assert concerns.concern_files(BY_CONCERN, "linux_base", ["apache", "ssh"]) == []


def test_bad_input():
    with pytest.raises(AnsibleFilterError, match="dict of concern"):
        concerns.concern_files([], "linux_base", ["all"])
