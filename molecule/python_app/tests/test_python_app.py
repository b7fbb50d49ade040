"""python_app behind the apache role on the mysql role: real requests through Apache over HTTPS."""

import json
import pathlib
import re
import shutil
import time

from conftest import assert_check_mode_clean, assert_running, journal, run_playbook

ROLE_APP = pathlib.Path(__file__).resolve().parents[3] / "roles" / "python_app" / "files" / "foobar_app"
CURL = "curl -sk --max-time 10 --resolve www.foobar.com:443:127.0.0.1"
URL = "https://www.foobar.com"
JAR = "/root/cookies.txt"


def get(host, path="/", extra=""):
    return host.run(f"{CURL} {extra} {URL}{path}")


def status(host, path="/", extra=""):
    return host.check_output(f"{CURL} -o /dev/null -w '%{{http_code}}' {extra} {URL}{path}")


def sql(host, query):
    return host.check_output(f"mariadb -N -B foobar -e {query!r}")


def wait_health(host, code, seconds=30):
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        last = status(host, "/healthz")
        if last == code:
            return last
        time.sleep(1)
    return last


def post_form(host, name, message):
    """GET the page for the CSRF cookie and token, then POST the form; returns the status code."""
    page = host.check_output(f"{CURL} -c {JAR} -b {JAR} {URL}/")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
    return host.check_output(
        f"{CURL} -o /dev/null -w '%{{http_code}}' -c {JAR} -b {JAR} "
        f"--data-urlencode csrf_token={token} --data-urlencode name={name!r} --data-urlencode message={message!r} "
        f"{URL}/"
    )


def current_release(host):
    return host.file("/srv/foobar/current").linked_to


def test_services_running(host):
    assert_running(host, "foobar-app.socket")
    assert_running(host, "foobar-app.service")
    assert_running(host, "apache2")
    assert_running(host, "mariadb")


def test_release_layout_and_secrets(host):
    assert current_release(host) == "/srv/foobar/releases/1.0.0"
    assert host.file("/srv/foobar/releases/1.0.0/venv/bin/gunicorn").exists
    config = host.file("/etc/foobar-app/app.ini")
    assert config.user == "root" and config.group == "foobar" and config.mode == 0o640
    assert host.run("runuser -u www-data -- cat /etc/foobar-app/app.ini").rc != 0
    assert host.user("foobar").shell == "/usr/sbin/nologin"


def test_release_code_is_not_writable_by_the_app_user(host):
    """The finished release, venv included, belongs to root: the running app cannot change its own code."""
    owners = host.check_output("find /srv/foobar/releases/1.0.0 /srv/foobar/venvs -not -user root -printf '%p\\n' | head -n 5")
    assert owners == "", owners
    for path in ("/srv/foobar/releases/1.0.0/venv/bin", "/srv/foobar/releases/1.0.0/foobar_app"):
        res = host.run(f"runuser -u foobar -- touch {path}/planted")
        assert res.rc != 0, f"the app user can write to {path}"


def test_page_shows_rows_from_the_database(host):
    sql(host, "INSERT INTO messages (name, message) VALUES ('seed', 'row written straight to MariaDB')")
    res = get(host, "/")
    assert res.rc == 0 and "row written straight to MariaDB" in res.stdout
    assert "foobar guestbook" in res.stdout


def test_backend_does_not_show_in_headers(host):
    headers = host.check_output(f"{CURL} -D - -o /dev/null {URL}/").lower()
    assert "gunicorn" not in headers and re.search(r"^server: (?!apache\r?$)", headers, re.M) is None, headers


def test_form_post_is_stored_and_shown(host):
    assert post_form(host, "Alice", "hello from the form") == "303"
    assert sql(host, "SELECT COUNT(*) FROM messages WHERE message = 'hello from the form'") == "1"
    assert "hello from the form" in get(host, "/").stdout


def test_post_without_csrf_token_is_refused(host):
    code = status(host, "/", "--data-urlencode name=x --data-urlencode message=no-token")
    assert code == "403"
    assert sql(host, "SELECT COUNT(*) FROM messages WHERE message = 'no-token'") == "0"


def test_injection_and_script_stored_literally_and_escaped(host):
    evil_sql = "x'); DROP TABLE messages; --"
    evil_js = "<script>alert(1)</script>"
    assert post_form(host, "Mallory", evil_sql) == "303"
    assert post_form(host, "Eve", evil_js) == "303"
    assert sql(host, "SELECT COUNT(*) FROM messages WHERE message = 'x''); DROP TABLE messages; --'") == "1"
    assert sql(host, f"SELECT COUNT(*) FROM messages WHERE message = '{evil_js}'") == "1"
    page = get(host, "/").stdout
    assert evil_js not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_field_length_limits(host):
    page = host.check_output(f"{CURL} -c {JAR} -b {JAR} {URL}/")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
    code = host.check_output(
        f"{CURL} -o /dev/null -w '%{{http_code}}' -c {JAR} -b {JAR} --data-urlencode csrf_token={token} "
        f"--data-urlencode name={'n' * 81} --data-urlencode message=too-long-name {URL}/"
    )
    assert code == "400"


def test_oversized_body_refused(host):
    """413 before the body reaches gunicorn, over HTTP/1.1, and over HTTP/2 where the host's curl reads an
    early answer to an unfinished upload (curl 8; Debian 12's 7.88 gives up on the stream reset that
    HTTP/2 sends after such an answer, as the site scenario shows with Debian 13's curl)."""
    host.run("head -c 100000 /dev/zero | tr '\\0' 'a' > /root/big.txt")
    body = "-H 'Content-Type: application/json' --data-binary @/root/big.txt"
    assert status(host, "/api/messages", f"--http1.1 {body}") == "413"
    if int(host.check_output("curl --version | head -n 1 | cut -d' ' -f2 | cut -d. -f1")) >= 8:
        assert status(host, "/api/messages", f"--http2 {body}") == "413"
    assert status(host, "/healthz") == "200"


def test_json_api(host):
    res = get(
        host,
        "/api/messages",
        "-w '\\n%{http_code}' -H 'Content-Type: application/json' -d '{\"name\": \"api\", \"message\": \"via json\"}'",
    )
    body, _, code = res.stdout.rpartition("\n")
    assert code == "201", (
        f"{code}: {body}\napache:\n{host.run('tail -n 20 /var/log/apache2/*error.log').stdout}"
        f"\napp:\n{journal(host, 'foobar-app.service')}"
    )
    body = get(host, "/api/messages").stdout
    assert '"message": "via json"' in body


def test_static_served_by_apache(host):
    res = host.check_output(f"{CURL} -D - -o /dev/null {URL}/static/style.css")
    assert " 200" in res.splitlines()[0]
    assert "text/css" in res and "max-age=" in res


def test_healthz_ok(host):
    assert status(host, "/healthz") == "200"


def test_check_mode_is_clean(host):
    assert_check_mode_clean(host)


def test_healthz_503_without_database_and_recovers(host):
    host.check_output("systemctl stop mariadb")
    try:
        assert wait_health(host, "503", 20) == "503"
    finally:
        host.check_output("systemctl start mariadb")
    assert wait_health(host, "200", 30) == "200"


def test_killed_app_is_restarted_by_systemd(host):
    pid = host.check_output("systemctl show -p MainPID --value foobar-app.service")
    host.check_output(f"kill -9 {pid}")
    assert wait_health(host, "200", 30) == "200"
    assert host.check_output("systemctl show -p MainPID --value foobar-app.service") not in ("0", pid)


def _app_copy(tmp_path, version, broken=False, bad_migration=False):
    dest = tmp_path / f"app-{version}"
    shutil.copytree(ROLE_APP, dest)
    init = dest / "foobar_app" / "__init__.py"
    init.write_text(init.read_text().replace('"1.0.0"', f'"{version}"'))
    if broken:
        app = dest / "foobar_app" / "app.py"
        app.write_text(app.read_text().replace("healthy = db.ping(self.config)", "healthy = False"))
    if bad_migration:
        (dest / "foobar_app" / "migrations" / "0099_broken.sql").write_text("ALTER TABLE no_such_table ADD COLUMN x INT;\n")
    return dest


def deploy(host, version, source_dir=None, extra=()):
    args = ["-e", f"python_app_version={version}", *extra]
    if source_dir:
        args += ["-e", "python_app_source=dir", "-e", f"python_app_source_path={source_dir}"]
    return run_playbook("deploy.yml", *args, limit=host.backend.get_hostname())


def test_deploy_new_version_keeps_rows(host, tmp_path):
    rows = sql(host, "SELECT COUNT(*) FROM messages")
    proc = deploy(host, "1.1.0", _app_copy(tmp_path, "1.1.0"))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert current_release(host) == "/srv/foobar/releases/1.1.0"
    assert host.file("/srv/foobar/previous").linked_to == "/srv/foobar/releases/1.0.0"
    assert "app 1.1.0" in get(host, "/").stdout
    assert sql(host, "SELECT COUNT(*) FROM messages") == rows
    # Same pinned requirements: the new release links the venv 1.0.0 was built with, pip never ran.
    venv = host.file("/srv/foobar/releases/1.1.0/venv")
    assert venv.is_symlink and venv.linked_to == host.file("/srv/foobar/releases/1.0.0/venv").linked_to
    assert venv.linked_to.startswith("/srv/foobar/venvs/")
    assert re.search(r"Install the pinned requirements into the venv\] \*+\s*skipping", proc.stdout), proc.stdout[-3000:]


def test_rollback_returns_to_previous_release(host):
    proc = run_playbook("rollback.yml", "-e", "webstack_rollback_hosts=all", limit=host.backend.get_hostname())
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert current_release(host) == "/srv/foobar/releases/1.0.0"
    assert "app 1.0.0" in get(host, "/").stdout


def test_broken_release_rolls_back_automatically(host, tmp_path):
    """The deploy state survives the failure: current and previous are exactly as before the run, the
    restored release is health-checked (and the message says so), the failed one is marked and kept."""
    rows = sql(host, "SELECT COUNT(*) FROM messages")
    previous = host.file("/srv/foobar/previous").linked_to
    assert current_release(host) == "/srv/foobar/releases/1.0.0" and previous == "/srv/foobar/releases/1.1.0"
    proc = deploy(host, "1.2.0-broken", _app_copy(tmp_path, "1.2.0-broken", broken=True),
                  extra=["-e", "python_app_health_timeout=6"])
    output = proc.stdout + proc.stderr  # ansible-core prints the failure on stderr
    assert proc.returncode != 0
    assert "ROLLED BACK" in output and "HEALTHY again" in output, output[-3000:]
    assert current_release(host) == "/srv/foobar/releases/1.0.0"
    assert host.file("/srv/foobar/previous").linked_to == previous  # untouched by the failed deploy
    assert host.file("/srv/foobar/releases/1.2.0-broken").is_directory  # kept for analysis
    assert "failed its health check" in host.file("/srv/foobar/releases/1.2.0-broken/.foobar-webstack-failed").content_string
    assert status(host, "/healthz") == "200"
    assert sql(host, "SELECT COUNT(*) FROM messages") == rows


def test_rollback_after_a_failed_deploy_goes_to_the_release_before(host):
    """Before the fix, a failed deploy left previous == current and this rollback "succeeded" in place."""
    proc = run_playbook("rollback.yml", "-e", "webstack_rollback_hosts=all", limit=host.backend.get_hostname())
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert current_release(host) == "/srv/foobar/releases/1.1.0"
    assert host.file("/srv/foobar/previous").linked_to == "/srv/foobar/releases/1.0.0"
    assert "app 1.1.0" in get(host, "/").stdout


def test_failed_migration_leaves_the_running_release_untouched(host, tmp_path):
    before = current_release(host)
    rows = sql(host, "SELECT COUNT(*) FROM messages")
    proc = deploy(host, "1.3.0-badmigration", _app_copy(tmp_path, "1.3.0-badmigration", bad_migration=True))
    assert proc.returncode != 0
    assert "Migrate | Run the migrations of the new release" in proc.stdout
    assert current_release(host) == before
    assert sql(host, "SELECT COUNT(*) FROM schema_migrations WHERE name = '0099_broken.sql'") == "0"
    assert sql(host, "SELECT COUNT(*) FROM messages") == rows
    assert status(host, "/healthz") == "200"


def test_deploy_from_git(host):
    proc = deploy(host, "git-1", extra=["-e", "python_app_source=git", "-e", "python_app_git_repo=/srv/git/foobar.git"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert current_release(host) == "/srv/foobar/releases/git-1"
    assert host.file("/srv/foobar/releases/git-1/.git").is_directory
    assert status(host, "/healthz") == "200"
    again = deploy(host, "git-1", extra=["-e", "python_app_source=git", "-e", "python_app_git_repo=/srv/git/foobar.git"])
    assert "changed=0" in again.stdout, again.stdout[-3000:]


def test_requirements_are_installed_by_the_app_user(host, tmp_path):
    """pip runs as the app's user, not root: a requirements file that pulls in one only root may read
    makes the build fail with pip's permission error, and the release in service stays."""
    before = current_release(host)
    host.check_output("install -m 0600 /dev/null /root/root-only-requirements.txt && echo 'PyMySQL==1.1.1' > /root/root-only-requirements.txt")
    source = _app_copy(tmp_path, "1.4.0-rootreq")
    with open(source / "requirements.txt", "a", encoding="utf-8") as handle:
        handle.write("-r /root/root-only-requirements.txt\n")
    proc = deploy(host, "1.4.0-rootreq", source)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert "Install the pinned requirements into the venv" in output and "Permission denied" in output, output[-3000:]
    assert current_release(host) == before
    assert status(host, "/healthz") == "200"


def test_migrations_run_as_the_app_user(host):
    proc = deploy(host, "git-1", extra=[
        "-e", "python_app_source=git", "-e", "python_app_git_repo=/srv/git/foobar.git",
        "-e", json.dumps({"python_app_migrate_command":
                          "/bin/sh -c 'id -un > /tmp/migrate-user && exec {venv}/bin/python -m foobar_app.migrate'"})])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert host.file("/tmp/migrate-user").content_string.strip() == "foobar"


def test_prune_keeps_the_release_in_service_the_one_before_and_failed_ones(host):
    """With python_app_releases_keep 2, the oldest good release goes; the release in service, the one
    rollback.yml would go to, and the failed release kept for analysis stay."""
    previous = host.file("/srv/foobar/previous").linked_to
    proc = deploy(host, "git-1", extra=["-e", "python_app_source=git", "-e", "python_app_git_repo=/srv/git/foobar.git",
                                        "-e", "python_app_releases_keep=2"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    left = set(host.check_output("ls /srv/foobar/releases").split())
    assert {"git-1", previous.rsplit("/", 1)[1], "1.2.0-broken"} <= left, left
    assert "1.0.0" not in left, left
