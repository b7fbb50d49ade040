"""mysql runs again on a converged server: restores, changed inputs, a server loosened by hand.

Runs after test_mysql.py (pytest takes the files in name order). Each test runs its playbook once over
both hosts (the two Debian releases side by side, one ansible-playbook start-up instead of two) and
checks every host on its own.
"""

from conftest import assert_both_releases, assert_running, changed, name_of, recap, run_playbook
from test_mysql import (
    APP_PASSWORD,
    APP_USER,
    BACKUP_DIR,
    BACKUP_UNIT,
    REPORTER_PASSWORD,
    dumps,
    root_sql,
    run_backup,
    tcp_sql,
)


def test_backup_restores_dropped_database(hosts):
    first = {}
    for host in hosts:
        root_sql(
            host,
            "CREATE TABLE foobar.restore_probe (id INT PRIMARY KEY, note VARCHAR(40)) ENGINE=InnoDB; "
            "INSERT INTO foobar.restore_probe VALUES (1, 'one'), (2, 'two'), (3, 'three')",
        )
        run_backup(host)
        first[name_of(host)] = dumps(host, "foobar")[-1]
        root_sql(host, "INSERT INTO foobar.restore_probe VALUES (4, 'four'), (5, 'five')")
        run_backup(host)
        assert dumps(host, "foobar")[-1] != first[name_of(host)]
        root_sql(host, "DROP DATABASE foobar")
        assert root_sql(host, "SHOW DATABASES LIKE 'foobar'") == []

    # The newest dump by default: all five rows, readable by the app user again.
    proc = run_playbook("restore.yml")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    for host in hosts:
        res = tcp_sql(host, APP_USER, APP_PASSWORD, "SELECT GROUP_CONCAT(note ORDER BY id) FROM restore_probe", "foobar")
        assert res.rc == 0 and res.stdout.strip() == "one,two,three,four,five", (name_of(host), res.stderr)

    # A named dump: back to the three rows it holds. The dumps are named by the second they were
    # taken, so each host is given its own through a host-specific lookup in the extra vars.
    named = "{{ {" + ", ".join(f"'{n}': '{f}'" for n, f in first.items()) + "}[inventory_hostname] }}"
    proc = run_playbook("restore.yml", "-e", f"mysql_restore_file={named}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    for host in hosts:
        assert root_sql(host, "SELECT GROUP_CONCAT(note ORDER BY id) FROM foobar.restore_probe") == [["one,two,three"]]
        root_sql(host, "DROP TABLE foobar.restore_probe")


def test_restore_is_safe_to_fail(hosts):
    """A restore dumps the database first, and a dump that breaks half-way changes nothing: it went to a
    staging database, which is dropped, and the live tables were never touched."""
    safety = f"{BACKUP_DIR}/foobar/before-restore"
    before = {}
    for host in hosts:
        root_sql(host, "CREATE TABLE foobar.safety_probe (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO foobar.safety_probe VALUES (1), (2)")
        host.check_output(
            "printf 'DROP TABLE IF EXISTS safety_probe;\\nCREATE TABLE safety_probe (id INT PRIMARY KEY);\\n"
            "INSERT INTO safety_probe VALUES (9);\\nTHIS IS NOT SQL;\\n' | gzip -c > /root/broken.sql.gz"
        )
        before[name_of(host)] = host.run(f"ls {safety}").stdout.split()
    try:
        proc = run_playbook("restore.yml", "-e", "mysql_restore_file=/root/broken.sql.gz")
        assert proc.returncode != 0, proc.stdout[-3000:]
        for host in hosts:
            name = name_of(host)
            assert recap(proc.stdout)[name]["failed"] >= 1, (name, proc.stdout[-3000:])
            assert root_sql(host, "SELECT GROUP_CONCAT(id ORDER BY id) FROM foobar.safety_probe") == [["1,2"]], name
            assert root_sql(host, "SHOW DATABASES LIKE 'foobar\\_webstack\\_%'") == [], name
            after = host.check_output(f"ls {safety}").split()
            assert len(after) == len(before[name]) + 1, (name, before[name], after)
            newest = sorted(set(after) - set(before[name]))[0]
            dumped = host.run(f"zcat {safety}/{newest} | tr -d '\\n' | grep -Eq 'INSERT INTO `safety_probe` VALUES *\\(1\\), *\\(2\\)'")
            assert dumped.rc == 0, name
            assert host.file(safety).mode == 0o700, name
    finally:
        for host in hosts:
            root_sql(host, "DROP TABLE IF EXISTS foobar.safety_probe")


def test_changed_inputs_apply_in_place(hosts):
    """New password set in place (rows kept, never logged), one restart for a config change, backups
    switched off (timer gone, dumps kept), then everything back."""
    new_password = "foobar-test-pass-2"
    pids = {name_of(h): h.check_output("systemctl show -P MainPID mariadb") for h in hosts}
    dumps_before = {name_of(h): dumps(h, "foobar") for h in hosts}
    tags = ("--tags", "mysql_configure,mysql_service,mysql_users,mysql_backup")
    proc = run_playbook(
        "converge.yml",
        *tags,
        "-e", f"test_foobar_password={new_password}",
        "-e", "mysql_max_connections=91",
        "-e", "mysql_backup_enabled=false",
    )
    try:
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert "RUNNING HANDLER [foobar.webstack.mysql : Reload systemd]" in proc.stdout
        assert proc.stdout.count("RUNNING HANDLER [foobar.webstack.mysql : Restart mariadb]") == 1  # one banner for both
        assert new_password not in proc.stdout + proc.stderr  # no_log
        for host in hosts:
            name = name_of(host)
            # drop-in + restart handler, password, timer stopped + units removed (daemon-reload reports ok)
            assert changed(proc, host) == 5, (name, proc.stdout[-6000:])
            assert host.check_output("systemctl show -P MainPID mariadb") != pids[name], name
            assert root_sql(host, "SELECT @@GLOBAL.max_connections") == [["91"]], name
            res = tcp_sql(host, APP_USER, new_password, "SELECT COUNT(*) > 0 FROM verify_rw", "foobar")
            assert res.rc == 0 and res.stdout.strip() == "1", (name, res.stderr)
            assert tcp_sql(host, APP_USER, APP_PASSWORD, "SELECT 1").rc != 0, name
            assert not host.file(f"/etc/systemd/system/{BACKUP_UNIT}.timer").exists, name
            assert not host.file("/usr/local/sbin/foobar-webstack-mysql-backup").exists, name
            assert host.run(f"systemctl is-active {BACKUP_UNIT}.timer").stdout.strip() != "active", name
            assert dumps(host, "foobar") == dumps_before[name], name
    finally:
        proc = run_playbook("converge.yml", *tags)
    assert proc.returncode == 0, proc.stdout[-3000:]
    for host in hosts:
        assert root_sql(host, "SELECT @@GLOBAL.max_connections") == [["80"]], name_of(host)
        assert tcp_sql(host, APP_USER, APP_PASSWORD, "SELECT COUNT(*) FROM verify_rw", "foobar").rc == 0, name_of(host)
        assert_running(host, "mariadb")
        assert_running(host, f"{BACKUP_UNIT}.timer")


def test_reconverge_repairs_security_and_keeps_rows(hosts):
    """Loosen the server by hand, re-run converge: security restored, declared absences applied, rows kept."""
    pids = {}
    for host in hosts:
        root_sql(
            host,
            "CREATE TABLE foobar.keep_me (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO foobar.keep_me VALUES (1), (2), (3); "
            "CREATE USER ''@'localhost'; CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY 'rootpw'; "
            "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('rootpw') OR unix_socket; "
            "CREATE DATABASE test; CREATE DATABASE legacy; CREATE USER 'olduser'@'localhost' IDENTIFIED BY 'old-pass'",
        )
        assert tcp_sql(host, "root", "rootpw", "SELECT 1").rc == 0, name_of(host)  # the hole is really open
        pids[name_of(host)] = host.check_output("systemctl show -P MainPID mariadb")
    proc = run_playbook("converge.yml")
    assert proc.returncode == 0, proc.stdout[-4000:]
    for secret in (APP_PASSWORD, REPORTER_PASSWORD):
        assert secret not in proc.stdout + proc.stderr  # no_log
    for host in hosts:
        name = name_of(host)
        # root's plugin, the two accounts, test, legacy, olduser; the configuration is untouched: no restart.
        assert changed(proc, host) == 5, (name, proc.stdout[-6000:])
        assert host.check_output("systemctl show -P MainPID mariadb") == pids[name], name
        res = tcp_sql(host, "root", "rootpw", "SELECT 1")
        assert res.rc != 0 and "Access denied" in res.stderr, name
        users = root_sql(host, "SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User IN ('', 'root', 'olduser')")
        assert users == [["root@localhost"]], name
        assert root_sql(host, "SHOW DATABASES WHERE `Database` IN ('test', 'legacy')") == [], name
        assert root_sql(host, "SELECT COUNT(*) FROM foobar.keep_me") == [["3"]], name
        assert root_sql(host, "SELECT COUNT(*) > 0 FROM foobar.verify_rw") == [["1"]], name
        root_sql(host, "DROP TABLE foobar.keep_me")


def test_both_releases_ran(hosts):
    assert_both_releases(hosts)
