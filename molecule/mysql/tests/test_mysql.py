"""mysql (MariaDB) on a systemd container: what a converged host must do, checked by behaviour.

Restores and runs with changed inputs are in test_mysql_runs.py, which runs after this file."""

import uuid

from conftest import assert_check_mode_clean, assert_running

APP_USER = "foobar"
APP_PASSWORD = "foobar-test-pass-1"  # molecule/mysql/converge.yml
REPORTER_PASSWORD = "reporter-test-pass"
BUFFER_POOL_RATIO = 0.1
KEEP = 3
BACKUP_DIR = "/var/backups/mysql"
BACKUP_UNIT = "foobar-webstack-mysql-backup"


def root_sql(host, query):
    """Run SQL as root through the unix socket (the only way root logs in); return the rows."""
    out = host.check_output("mariadb --batch --skip-column-names -e %s", query)
    return [line.split("\t") for line in out.splitlines()]


def tcp_sql(host, user, password, query, database=""):
    """Run SQL over TCP to 127.0.0.1:3306 with a password; return the command result."""
    return host.run(
        "mariadb --protocol=TCP --host=127.0.0.1 --port=3306 --batch --skip-column-names "
        "--user=%s --password=%s -e %s " + ("%s" if database else ""),
        user,
        password,
        query,
        *([database] if database else []),
    )


def dumps(host, db):
    """Dump file names of a database, oldest first."""
    out = host.check_output(f"find {BACKUP_DIR}/{db} -maxdepth 1 -name '{db}-*.sql.gz' -printf '%f\\n' | sort")
    return out.split()


def run_backup(host):
    res = host.run(f"systemctl start {BACKUP_UNIT}.service")
    assert res.rc == 0, f"backup failed:\n{host.run(f'journalctl -u {BACKUP_UNIT} --no-pager -n 30').stdout}"


def test_service_running_and_enabled(host):
    assert_running(host, "mariadb")
    assert host.package("mariadb-server").is_installed
    assert host.package("python3-pymysql").is_installed


def test_listens_only_on_loopback_3306(host):
    listening = [s for s in host.socket.get_listening_sockets() if s.startswith("tcp") and s.endswith(":3306")]
    assert listening == ["tcp://127.0.0.1:3306"]


def test_root_only_through_unix_socket(host):
    assert root_sql(host, "SELECT CURRENT_USER()") == [["root@localhost"]]
    assert root_sql(host, "SHOW CREATE USER 'root'@'localhost'") == [
        ["CREATE USER `root`@`localhost` IDENTIFIED VIA unix_socket"]
    ]
    assert root_sql(host, "SELECT Host FROM mysql.user WHERE User = 'root'") == [["localhost"]]
    for password in ("", "root", "invalid", APP_PASSWORD):
        res = tcp_sql(host, "root", password, "SELECT 1")
        assert res.rc != 0 and "Access denied" in res.stderr, res


def test_no_anonymous_users_and_no_test_database(host):
    assert root_sql(host, "SELECT COUNT(*) FROM mysql.user WHERE User = ''") == [["0"]]
    assert root_sql(host, "SHOW DATABASES LIKE 'test'") == []


def test_databases_with_their_collation(host):
    rows = root_sql(
        host,
        "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
        "WHERE SCHEMA_NAME IN ('foobar', 'foobar_stats', 'legacy') ORDER BY SCHEMA_NAME",
    )
    assert rows == [
        ["foobar", "utf8mb4", "utf8mb4_unicode_ci"],
        ["foobar_stats", "utf8mb4", "utf8mb4_bin"],
    ]


def test_app_user_creates_writes_and_reads_over_tcp(host):
    token = uuid.uuid4().hex
    res = tcp_sql(
        host,
        APP_USER,
        APP_PASSWORD,
        "CREATE TABLE IF NOT EXISTS verify_rw (id INT AUTO_INCREMENT PRIMARY KEY, token CHAR(32), note VARCHAR(20)) "
        f"ENGINE=InnoDB; INSERT INTO verify_rw (token, note) VALUES ('{token}', 'café ✓'); "
        f"SELECT note FROM verify_rw WHERE token = '{token}'; SELECT CURRENT_USER()",
        database="foobar",
    )
    assert res.rc == 0, res.stderr
    assert res.stdout.splitlines() == ["café ✓", "foobar@localhost"]
    # Its privileges stop at its own database.
    res = tcp_sql(host, APP_USER, APP_PASSWORD, "SELECT COUNT(*) FROM foobar_stats.t", database="foobar")
    assert res.rc != 0 and "denied" in res.stderr
    res = tcp_sql(host, APP_USER, "wrong-password", "SELECT 1")
    assert res.rc != 0 and "Access denied" in res.stderr


def test_reporter_has_exactly_its_privileges(host):
    assert tcp_sql(host, "reporter", REPORTER_PASSWORD, "SELECT COUNT(*) FROM foobar.verify_rw").rc == 0
    res = tcp_sql(host, "reporter", REPORTER_PASSWORD, "INSERT INTO foobar.verify_rw (note) VALUES ('x')")
    assert res.rc != 0 and "denied" in res.stderr
    res = tcp_sql(
        host,
        "reporter",
        REPORTER_PASSWORD,
        "CREATE TABLE IF NOT EXISTS foobar_stats.t (n INT)",
    )
    assert res.rc != 0 and "denied" in res.stderr  # SELECT,INSERT only


def _expected_buffer_pool_bytes(host):
    memtotal_mb = int(host.check_output("awk '/^MemTotal:/ {print $2}' /proc/meminfo")) // 1024
    mib = max(int(memtotal_mb * BUFFER_POOL_RATIO) // 128 * 128, 128)
    return mib * 1024 * 1024


def test_config_values_in_effect(host):
    wanted = (
        "bind_address", "port", "character_set_server", "collation_server", "innodb_buffer_pool_size",
        "max_connections", "slow_query_log", "long_query_time", "server_id", "log_bin", "binlog_format",
    )
    variables = dict(root_sql(host, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('" + "','".join(wanted) + "')"))
    assert variables == {
        "bind_address": "127.0.0.1",
        "port": "3306",
        "character_set_server": "utf8mb4",
        "collation_server": "utf8mb4_unicode_ci",
        "innodb_buffer_pool_size": str(_expected_buffer_pool_bytes(host)),
        "max_connections": "80",
        "slow_query_log": "ON",
        "long_query_time": "1.500000",
        "server_id": "1",
        "log_bin": "OFF",
        "binlog_format": "ROW",
    }
    dropin = host.file("/etc/mysql/mariadb.conf.d/60-foobar-webstack.cnf")
    assert dropin.user == "root" and dropin.mode == 0o644
    assert dropin.content_string.startswith("#\n# Ansible managed")


def test_slow_query_is_logged(host):
    marker = f"slow_{uuid.uuid4().hex[:8]}"
    root_sql(host, f"SELECT SLEEP(1.6) AS {marker}")
    assert marker in host.file("/var/log/mysql/mariadb-slow.log").content_string


def test_backup_timer_enabled(host):
    assert_running(host, f"{BACKUP_UNIT}.timer")
    assert host.check_output(f"systemctl show -P TimersCalendar {BACKUP_UNIT}.timer").startswith(
        "{ OnCalendar=*-*-* 00:00:00 ;"
    )
    assert host.check_output(f"systemctl show -P Triggers {BACKUP_UNIT}.timer") == f"{BACKUP_UNIT}.service"


def test_backup_files_are_root_only(host):
    run_backup(host)
    base = host.file(BACKUP_DIR)
    assert base.is_directory and base.user == "root" and base.mode == 0o700
    for db in ("foobar", "foobar_stats"):
        sub = host.file(f"{BACKUP_DIR}/{db}")
        assert sub.user == "root" and sub.mode == 0o700
        names = dumps(host, db)
        assert names, f"no dump of {db}"
        newest = host.file(f"{BACKUP_DIR}/{db}/{names[-1]}")
        assert newest.user == "root" and newest.mode == 0o600
        # A complete, consistent dump: gzip intact, dump footer present.
        assert host.run(f"gzip -t {newest.path}").rc == 0
        assert "-- Dump completed" in host.check_output(f"zcat {newest.path} | tail -n 1")
    assert host.run(f"find {BACKUP_DIR} -name '*.part'").stdout == ""


def test_backup_dumps_the_databases_other_roles_list(host):
    """A role that creates a database for itself lists it in the backup drop-in directory (exported
    as mysql_server.backup_dropin_dir): the next backup dumps it too."""
    root_sql(host, "CREATE DATABASE IF NOT EXISTS dropin_probe")
    host.check_output("printf '# a role\\ndropin_probe\\n' > /etc/foobar-webstack/mysql-backup.d/probe.list")
    try:
        run_backup(host)
        assert len(dumps(host, "dropin_probe")) == 1
        assert dumps(host, "foobar")  # the role's own list still dumped
    finally:
        host.run("rm -f /etc/foobar-webstack/mysql-backup.d/probe.list")
        host.run(f"rm -rf {BACKUP_DIR}/dropin_probe")
        root_sql(host, "DROP DATABASE IF EXISTS dropin_probe")


def test_backup_of_nothing_fails_loudly(host):
    """The backup script with an empty list and no drop-ins fails (a backup of nothing is no success)."""
    host.check_output(
        "sed -e 's/^databases=(.*)$/databases=()/' -e 's#^dropins=.*#dropins=/nonexistent#' "
        "/usr/local/sbin/foobar-webstack-mysql-backup > /root/backup-nothing && chmod 0700 /root/backup-nothing"
    )
    assert "databases=()" in host.file("/root/backup-nothing").content_string
    res = host.run("/root/backup-nothing")
    assert res.rc == 1 and "no database to dump" in res.stderr, (res.rc, res.stdout, res.stderr)


def test_backup_retention_keeps_newest(host):
    runs = KEEP + 2
    out = host.check_output(
        f"for i in $(seq {runs}); do systemctl start {BACKUP_UNIT}.service || exit 1; "
        f"find {BACKUP_DIR}/foobar -maxdepth 1 -type f -name 'foobar-*.sql.gz' -printf '%f\\n'; echo ---; done"
    )
    listings = [chunk.split() for chunk in out.split("---")[:runs]]
    assert len({max(listing) for listing in listings}) == runs  # every run wrote a new, newest dump
    assert all(len(listing) <= KEEP for listing in listings)
    seen = sorted(set().union(*listings))
    for db in ("foobar", "foobar_stats"):
        assert len(dumps(host, db)) == KEEP
    assert dumps(host, "foobar") == seen[-KEEP:]  # the newest stay


def test_check_mode_is_clean(host):
    assert_check_mode_clean(host)
