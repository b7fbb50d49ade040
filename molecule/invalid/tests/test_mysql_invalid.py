"""mysql with a present user lacking a password: the role stops before changing anything.

mysql.yml runs the role on webstack-invalid-roles in block/rescue and asserts the failure message;
here the host is checked for traces of a run that went on.
"""

import pytest

from conftest import scenario_host


@pytest.fixture(scope="module")
def host():
    return scenario_host("webstack-invalid-roles")


def test_mariadb_not_installed(host):
    for name in ("mariadb-server", "mariadb-client", "python3-pymysql"):
        assert not host.package(name).is_installed, name
    assert host.run("command -v mariadbd").rc != 0


def test_nothing_written(host):
    for path in (
        "/etc/mysql/mariadb.conf.d/60-foobar-webstack.cnf",
        "/var/log/mysql",
        "/var/backups/mysql",
        "/usr/local/sbin/foobar-webstack-mysql-backup",
        "/etc/systemd/system/foobar-webstack-mysql-backup.timer",
    ):
        assert not host.file(path).exists, path
