"""webstack-invalid-nonet, after linux_base.yml refused bad input: on a container without NET_ADMIN the
role refuses to run without its firewall (fail closed), and with linux_base_firewall_enabled: false it
applies the rest and no firewall."""

import pytest

from conftest import assert_running, scenario_host


@pytest.fixture(scope="module")
def host():
    return scenario_host("webstack-invalid-nonet")


def test_firewall_off_not_half_applied(host):
    assert host.run("nft list tables").rc != 0  # this container really cannot load rules
    assert not host.file("/etc/systemd/system/foobar-webstack-firewall.service").exists
    assert not host.file("/etc/foobar-webstack/nftables.nft").exists


def test_rest_of_base_applied(host):
    assert host.check_output("hostname") == "web1"
    assert_running(host, "ssh")
    settings = host.check_output("sshd -T")
    assert "passwordauthentication yes" in settings and "permitrootlogin no" in settings
