"""mysql (MariaDB) on a systemd container: what a converged host must do, checked by behaviour."""

import uuid

from conftest import assert_check_mode_clean, assert_running, recap, run_playbook

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


def test_backup_restores_dropped_database(host):
    name = host.backend.get_hostname()
    root_sql(
        host,
        "CREATE TABLE foobar.restore_probe (id INT PRIMARY KEY, note VARCHAR(40)) ENGINE=InnoDB; "
        "INSERT INTO foobar.restore_probe VALUES (1, 'one'), (2, 'two'), (3, 'three')",
    )
    run_backup(host)
    first = dumps(host, "foobar")[-1]
    root_sql(host, "INSERT INTO foobar.restore_probe VALUES (4, 'four'), (5, 'five')")
    run_backup(host)
    assert dumps(host, "foobar")[-1] != first
    root_sql(host, "DROP DATABASE foobar")
    assert root_sql(host, "SHOW DATABASES LIKE 'foobar'") == []

    # The newest dump by default: all five rows, readable by the app user again.
    proc = run_playbook("restore.yml", limit=name)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    res = tcp_sql(host, APP_USER, APP_PASSWORD, "SELECT GROUP_CONCAT(note ORDER BY id) FROM restore_probe", "foobar")
    assert res.rc == 0 and res.stdout.strip() == "one,two,three,four,five", res.stderr

    # A named dump: back to the three rows it holds.
    proc = run_playbook("restore.yml", "-e", f"mysql_restore_file={first}", limit=name)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert root_sql(host, "SELECT GROUP_CONCAT(note ORDER BY id) FROM foobar.restore_probe") == [["one,two,three"]]
    root_sql(host, "DROP TABLE foobar.restore_probe")


def test_restore_is_safe_to_fail(host):
    """A restore dumps the database first, and a dump that breaks half-way changes nothing: it went to a
    staging database, which is dropped, and the live tables were never touched."""
    name = host.backend.get_hostname()
    root_sql(host, "CREATE TABLE foobar.safety_probe (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO foobar.safety_probe VALUES (1), (2)")
    host.check_output(
        "printf 'DROP TABLE IF EXISTS safety_probe;\\nCREATE TABLE safety_probe (id INT PRIMARY KEY);\\n"
        "INSERT INTO safety_probe VALUES (9);\\nTHIS IS NOT SQL;\\n' | gzip -c > /root/broken.sql.gz"
    )
    safety = f"{BACKUP_DIR}/foobar/before-restore"
    before = host.run(f"ls {safety}").stdout.split()
    try:
        proc = run_playbook("restore.yml", "-e", "mysql_restore_file=/root/broken.sql.gz", limit=name)
        assert proc.returncode != 0, proc.stdout[-3000:]
        assert root_sql(host, "SELECT GROUP_CONCAT(id ORDER BY id) FROM foobar.safety_probe") == [["1,2"]]
        assert root_sql(host, "SHOW DATABASES LIKE 'foobar\\_webstack\\_%'") == []
        after = host.check_output(f"ls {safety}").split()
        assert len(after) == len(before) + 1, (before, after)
        newest = sorted(set(after) - set(before))[0]
        assert host.run(f"zcat {safety}/{newest} | tr -d '\\n' | grep -Eq 'INSERT INTO `safety_probe` VALUES *\\(1\\), *\\(2\\)'").rc == 0
        assert host.file(safety).mode == 0o700
    finally:
        root_sql(host, "DROP TABLE IF EXISTS foobar.safety_probe")


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


def test_changed_inputs_apply_in_place(host):
    """New password set in place (rows kept, never logged), one restart for a config change, backups
    switched off (timer gone, dumps kept), then everything back."""
    name = host.backend.get_hostname()
    new_password = "foobar-test-pass-2"
    pid = host.check_output("systemctl show -P MainPID mariadb")
    dumps_before = dumps(host, "foobar")
    tags = ("--tags", "mysql_configure,mysql_service,mysql_users,mysql_backup")
    proc = run_playbook(
        "converge.yml",
        *tags,
        "-e", f"test_foobar_password={new_password}",
        "-e", "mysql_max_connections=91",
        "-e", "mysql_backup_enabled=false",
        limit=name,
    )
    try:
        assert proc.returncode == 0, proc.stdout[-3000:]
        # drop-in + restart handler, password, timer stopped + units removed (daemon-reload reports ok)
        assert recap(proc.stdout)[name]["changed"] == 5, proc.stdout[-6000:]
        assert "RUNNING HANDLER [foobar.webstack.mysql : Reload systemd]" in proc.stdout
        assert proc.stdout.count("RUNNING HANDLER [foobar.webstack.mysql : Restart mariadb]") == 1
        assert new_password not in proc.stdout + proc.stderr  # no_log
        assert host.check_output("systemctl show -P MainPID mariadb") != pid
        assert root_sql(host, "SELECT @@GLOBAL.max_connections") == [["91"]]
        res = tcp_sql(host, APP_USER, new_password, "SELECT COUNT(*) > 0 FROM verify_rw", "foobar")
        assert res.rc == 0 and res.stdout.strip() == "1", res.stderr
        assert tcp_sql(host, APP_USER, APP_PASSWORD, "SELECT 1").rc != 0
        assert not host.file(f"/etc/systemd/system/{BACKUP_UNIT}.timer").exists
        assert not host.file("/usr/local/sbin/foobar-webstack-mysql-backup").exists
        assert host.run(f"systemctl is-active {BACKUP_UNIT}.timer").stdout.strip() != "active"
        assert dumps(host, "foobar") == dumps_before
    finally:
        proc = run_playbook("converge.yml", *tags, limit=name)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert root_sql(host, "SELECT @@GLOBAL.max_connections") == [["80"]]
    assert tcp_sql(host, APP_USER, APP_PASSWORD, "SELECT COUNT(*) FROM verify_rw", "foobar").rc == 0
    assert_running(host, "mariadb")
    assert_running(host, f"{BACKUP_UNIT}.timer")


def test_reconverge_repairs_security_and_keeps_rows(host):
    """Loosen the server by hand, re-run converge: security restored, declared absences applied, rows kept."""
    name = host.backend.get_hostname()
    root_sql(
        host,
        "CREATE TABLE foobar.keep_me (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO foobar.keep_me VALUES (1), (2), (3); "
        "CREATE USER ''@'localhost'; CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY 'rootpw'; "
        "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('rootpw') OR unix_socket; "
        "CREATE DATABASE test; CREATE DATABASE legacy; CREATE USER 'olduser'@'localhost' IDENTIFIED BY 'old-pass'",
    )
    assert tcp_sql(host, "root", "rootpw", "SELECT 1").rc == 0  # the hole is really open
    pid = host.check_output("systemctl show -P MainPID mariadb")
    proc = run_playbook("converge.yml", limit=name)
    assert proc.returncode == 0, proc.stdout[-4000:]
    # root's plugin, the two accounts, test, legacy, olduser; the configuration is untouched: no restart.
    assert recap(proc.stdout)[name]["changed"] == 5, proc.stdout[-6000:]
    assert host.check_output("systemctl show -P MainPID mariadb") == pid
    for secret in (APP_PASSWORD, REPORTER_PASSWORD):
        assert secret not in proc.stdout + proc.stderr  # no_log
    res = tcp_sql(host, "root", "rootpw", "SELECT 1")
    assert res.rc != 0 and "Access denied" in res.stderr
    assert root_sql(host, "SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User IN ('', 'root', 'olduser')") == [
        ["root@localhost"]
    ]
    assert root_sql(host, "SHOW DATABASES WHERE `Database` IN ('test', 'legacy')") == []
    assert root_sql(host, "SELECT COUNT(*) FROM foobar.keep_me") == [["3"]]
    assert root_sql(host, "SELECT COUNT(*) > 0 FROM foobar.verify_rw") == [["1"]]
    root_sql(host, "DROP TABLE foobar.keep_me")


def test_check_mode_is_clean(host):
    assert_check_mode_clean(host)
