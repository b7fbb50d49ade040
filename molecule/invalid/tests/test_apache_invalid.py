"""apache on webstack-invalid-roles: after the refused snippets (asserted in apache.yml) the site still serves."""

import pytest

from conftest import assert_running, scenario_host

SITE = "www.foobar.com"
SNIPPETS = f"/etc/apache2/foobar-webstack/{SITE}.d"
CURL = f"curl -sk --max-time 10 --resolve {SITE}:443:127.0.0.1"


@pytest.fixture(scope="module")
def host():
    return scenario_host("webstack-invalid-roles")


def test_apache_running(host):
    assert_running(host, "apache2")


def test_site_still_serves(host):
    out = host.check_output(f"{CURL} -w '\\n%{{http_code}}' https://{SITE}/")
    body, _, status = out.rpartition("\n")
    assert status == "200"
    assert "<h1>www.foobar.com</h1>" in body


def test_broken_snippets_not_installed(host):
    assert host.file(SNIPPETS).is_directory
    assert not host.file(f"{SNIPPETS}/10-apache-vhost-extra.conf").exists
    assert not host.file(f"{SNIPPETS}/50-broken.conf").exists
    assert "NoSuchDirective" not in host.check_output(f"cat {SNIPPETS}/*.conf 2>/dev/null || true")


def test_no_reload_tried_on_a_broken_configuration(host):
    # Had a reload run against the broken files, apachectl graceful would have failed and said so.
    log = host.check_output("journalctl -u apache2 --no-pager -o cat")
    assert "Reload failed" not in log and "Action 'graceful' failed" not in log, log[-2000:]
    assert "NoSuchDirective" not in log and "AnotherBogusDirective" not in log


def test_configuration_on_disk_valid(host):
    # A restart or a reboot would bring the site back up as it is now.
    res = host.run("apache2ctl configtest")
    assert res.rc == 0, res.stderr
