"""python_app behind the apache role on the mysql role: real requests through Apache over HTTPS.

The release cycle (deploys, rollbacks, broken releases) is in test_release_cycle.py, which runs after
this file."""

import re
import time

from conftest import assert_check_mode_clean, assert_running, journal

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
    # python_app's tasks and the contracts it reads (tagged always); the mysql and apache scenarios
    # check those roles' own check mode, the site scenario the whole stack's.
    assert_check_mode_clean(host, args=("--tags", "python_app"))


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
