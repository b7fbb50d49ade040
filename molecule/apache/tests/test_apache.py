"""apache on a systemd container: the promises both fronts keep (molecule/front_promises.py), and
what is Apache's own: the event MPM, its modules, the distribution's files left alone."""

import pytest

from front_promises import *  # noqa: F401,F403  (the shared tests are collected from here)

APACHE = {
    "service": "apache2",
    "process": "apache2",
    "server": "Apache",
    "page": "Apache",
    "status_text": "ServerMPM: event",
    "extra_header": "apache_vhost_extra_config",
}


@pytest.fixture(scope="module")
def front():
    return APACHE


def test_configuration_layout(host):
    assert host.run("apache2ctl configtest").rc == 0
    modules = host.check_output("apache2ctl -M 2>/dev/null")
    assert "mpm_event_module" in modules and "mpm_prefork_module" not in modules
    for name in ("ssl", "http2", "headers", "deflate", "expires", "status", "proxy_http"):
        assert f" {name}_module" in modules, name
    assert "autoindex_module" not in modules
    assert host.check_output("ls /etc/apache2/sites-enabled").split() == ["foobar-webstack.conf"]
    assert not host.file("/etc/apache2/conf-enabled/security.conf").exists
    # apache2.conf is the package's, byte for byte.
    conffiles = host.check_output("dpkg-query -W -f='${Conffiles}' apache2")
    md5 = next(line.split()[1] for line in conffiles.splitlines() if line.split()[:1] == ["/etc/apache2/apache2.conf"])
    assert host.check_output("md5sum /etc/apache2/apache2.conf").split()[0] == md5
    mpm = host.file("/etc/apache2/conf-enabled/foobar-webstack-mpm.conf").content_string
    assert "MaxRequestWorkers       150" in mpm and "ThreadsPerChild         25" in mpm
