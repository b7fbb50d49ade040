"""The foobar sample app's request handling, with its database layer replaced by an in-memory list.

The real app on real MariaDB behind Apache is tested in molecule/python_app; these tests pin the
request rules (CSRF, limits, escaping, status codes) fast and without containers.
"""

import io
import json
import pathlib
import re
import sys
from datetime import datetime
from urllib.parse import urlencode

import pytest

# No __pycache__ inside the role's files: the role copies that directory to hosts.
sys.dont_write_bytecode = True
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "roles/python_app/files/foobar_app"))

from foobar_app import app as appmod  # noqa: E402
from foobar_app import config as confmod  # noqa: E402


class FakeDB:
    def __init__(self):
        self.rows = []
        self.up = True

    def list_messages(self, _config, limit):
        return list(reversed(self.rows))[:limit]

    def add_message(self, _config, name, message):
        self.rows.append({"id": len(self.rows) + 1, "name": name, "message": message, "created_at": datetime(2026, 1, 1)})
        return len(self.rows)

    def ping(self, _config):
        if not self.up:
            raise OSError("down")
        return True


@pytest.fixture
def client(monkeypatch, tmp_path):
    ini = tmp_path / "app.ini"
    ini.write_text("[app]\ndatabase_dsn = mysql://u:p%40ss@127.0.0.1:3306/foobar\nsecret_key = s3cret\nmax_body_bytes = 2048\n")
    fake = FakeDB()
    for name in ("list_messages", "add_message", "ping"):
        monkeypatch.setattr(appmod.db, name, getattr(fake, name))
    application = appmod.App(confmod.load(str(ini)))

    def call(method, path, body=b"", content_type="application/x-www-form-urlencoded", cookie="", https=False):
        environ = {
            **({"HTTP_X_FORWARDED_PROTO": "https"} if https else {}),
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": content_type,
            "HTTP_COOKIE": cookie,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
        }
        result = {}

        def start_response(status, headers):
            result["status"] = int(status.split()[0])
            result["headers"] = dict(headers)

        result["body"] = b"".join(application(environ, start_response)).decode()
        return result

    call.db = fake
    call.secret = b"s3cret"
    return call


def test_dsn_parsing_unquotes_password():
    parsed = confmod.parse_dsn("mysql://app:p%40ss%2Fx@db.foobar.com:3307/shop")
    assert parsed["db_password"] == "p@ss/x" and parsed["db_host"] == "db.foobar.com" and parsed["db_port"] == 3307


def test_page_sets_csrf_cookie_and_lists_rows_escaped(client):
    client.db.add_message(None, "<b>bob</b>", "<script>x</script>")
    res = client("GET", "/")
    assert res["status"] == 200
    assert "foobar_csrf=" in res["headers"]["Set-Cookie"] and "HttpOnly" in res["headers"]["Set-Cookie"]
    assert "&lt;script&gt;x&lt;/script&gt;" in res["body"] and "<script>x" not in res["body"]


def test_form_post_needs_the_matching_token(client):
    nonce = "a" * 32
    good = appmod.mask_token(appmod.csrf_token(client.secret, nonce))
    form = urlencode({"csrf_token": good, "name": "Al", "message": "hi"}).encode()
    assert client("POST", "/", form, cookie=f"foobar_csrf={nonce}")["status"] == 303
    for wrong in ("0" * 128, "0" * 64, "zz" * 64, "", appmod.mask_token(appmod.csrf_token(client.secret, "c" * 32))):
        bad = urlencode({"csrf_token": wrong, "name": "Al", "message": "hi"}).encode()
        assert client("POST", "/", bad, cookie=f"foobar_csrf={nonce}")["status"] == 403, wrong
    assert client("POST", "/", form)["status"] == 403  # no cookie
    assert [r["message"] for r in client.db.rows] == ["hi"]


def test_every_page_masks_the_token_anew_and_never_shows_it_raw(client):
    """BREACH: the compressed page shows the token next to what visitors wrote; with a fresh pad per
    answer its bytes differ every time, so the compressed length tells nothing about it."""
    nonce = "d" * 32
    raw = appmod.csrf_token(client.secret, nonce)
    tokens = []
    for _ in range(3):
        body = client("GET", "/", cookie=f"foobar_csrf={nonce}")["body"]
        assert raw not in body
        tokens.append(re.search(r'name="csrf_token" value="([0-9a-f]{128})"', body).group(1))
    assert len(set(tokens)) == 3
    for token in tokens:
        assert appmod.unmask_token(token) == raw
        form = urlencode({"csrf_token": token, "name": "Al", "message": "masked"}).encode()
        assert client("POST", "/", form, cookie=f"foobar_csrf={nonce}")["status"] == 303


def test_an_odd_cookie_of_another_app_does_not_break_the_form(client):
    """SimpleCookie gave up at x={"a":1} and the form answered 403 to everyone who had that cookie."""
    nonce = "b" * 32
    form = urlencode({"csrf_token": appmod.mask_token(appmod.csrf_token(client.secret, nonce)), "name": "Al",
                      "message": "odd"}).encode()
    for cookie in (f'x={{"a":1}}; foobar_csrf={nonce}', f'foobar_csrf={nonce}; x={{"a":1}}',
                   f'junk; =x; a b=c; foobar_csrf="{nonce}"'):
        assert client("POST", "/", form, cookie=cookie)["status"] == 303, cookie
    assert appmod.read_cookies('x={"a":1}; y=2') == {"x": '{"a":1}', "y": "2"}


def test_csrf_cookie_is_host_prefixed_over_https(client):
    res = client("GET", "/", https=True)
    set_cookie = res["headers"]["Set-Cookie"]
    assert set_cookie.startswith("__Host-foobar_csrf=") and "; Secure" in set_cookie and "Path=/" in set_cookie
    assert "Domain" not in set_cookie
    nonce = set_cookie.split("=", 1)[1].split(";", 1)[0]
    form = urlencode({"csrf_token": appmod.mask_token(appmod.csrf_token(client.secret, nonce)), "name": "Al",
                      "message": "tls"}).encode()
    assert client("POST", "/", form, cookie=f"__Host-foobar_csrf={nonce}", https=True)["status"] == 303
    # Over HTTPS the unprefixed cookie (settable by any host of the domain) is not accepted.
    assert client("POST", "/", form, cookie=f"foobar_csrf={nonce}", https=True)["status"] == 403
    # Over plain HTTP (apache_https_redirect: false) the cookie is not marked Secure, or browsers would drop it.
    assert "Secure" not in client("GET", "/")["headers"]["Set-Cookie"]


@pytest.mark.parametrize(
    "name,message,code",
    [("", "x", 400), ("x", "   ", 400), ("n" * 81, "x", 400), ("x", "m" * 501, 400), ("n" * 80, "m" * 500, 201)],
)
def test_api_validates_fields(client, name, message, code):
    body = json.dumps({"name": name, "message": message}).encode()
    assert client("POST", "/api/messages", body, "application/json")["status"] == code


def test_api_needs_json(client):
    assert client("POST", "/api/messages", b"name=x", "application/x-www-form-urlencoded")["status"] == 415
    assert client("POST", "/api/messages", b"[1]", "application/json")["status"] == 400
    assert client("POST", "/api/messages", b"{", "application/json")["status"] == 400


def test_body_limit(client):
    body = json.dumps({"name": "x", "message": "y" * 3000}).encode()
    assert client("POST", "/api/messages", body, "application/json")["status"] == 413


def test_healthz_follows_the_database(client):
    assert client("GET", "/healthz")["status"] == 200
    client.db.up = False
    assert client("GET", "/healthz")["status"] == 503


def test_unknown_path_and_method(client):
    assert client("GET", "/nope")["status"] == 404
    assert client("DELETE", "/")["status"] == 405


@pytest.mark.parametrize(
    "dsn,tls_off",
    [
        ("mysql://u:p@127.0.0.1:3306/foobar", True),
        ("mysql://u:p@localhost/foobar", True),
        ("mysql://u:p@[::1]:3306/foobar", True),
        ("mysql://u:p@/foobar?socket=/run/mysqld/mysqld.sock", True),
        ("mysql://u:p@10.0.0.5:3306/foobar", False),
        ("mysql://u:p@db.foobar.com/foobar", False),
    ],
)
def test_tls_is_off_only_for_local_connections(monkeypatch, dsn, tls_off):
    from foobar_app import db  # noqa: PLC0415

    seen = {}
    monkeypatch.setattr(db, "_Connection", lambda **kwargs: seen.update(kwargs))
    fields = dict(confmod.parse_dsn(dsn), secret_key=b"k", max_body_bytes=1024, page_size=5)
    db.connect(confmod.Config(**fields))
    assert seen.get("ssl_disabled", False) is tls_off


def test_tls_context_is_built_once_per_process():
    from foobar_app import db  # noqa: PLC0415

    conn = object.__new__(db._Connection)  # noqa: SLF001 - the hook PyMySQL calls, without a socket
    first = conn._create_ssl_ctx({})  # noqa: SLF001
    assert first is db.shared_ssl_context() is conn._create_ssl_ctx({})  # noqa: SLF001


class FakeConnection:
    """A PyMySQL connection stand-in: `dead` fails the ping, `lose` fails the next statement."""

    made = []

    def __init__(self, **_kwargs):
        self.dead = False
        self.lose = False
        self.closed = False
        self.statements = []
        FakeConnection.made.append(self)

    def ping(self, reconnect=False):
        assert reconnect is False
        if self.dead:
            raise OSError("gone")

    def close(self):
        self.closed = True

    def cursor(self):
        conn = self

        class Cursor:
            lastrowid = 7

            def __enter__(self):
                return self

            def __exit__(self, *_exc):
                return False

            def execute(self, sql, _args):
                if conn.lose:
                    conn.lose = False
                    raise OSError("lost mid-way")
                conn.statements.append(sql.split()[0])

            def fetchall(self):
                return []

        return Cursor()


@pytest.fixture
def fake_db(monkeypatch):
    from foobar_app import db  # noqa: PLC0415

    FakeConnection.made = []
    monkeypatch.setattr(db, "_Connection", FakeConnection)
    monkeypatch.setattr(db, "_local", __import__("threading").local())
    fields = dict(confmod.parse_dsn("mysql://u:p@10.0.0.5:3306/foobar"), secret_key=b"k", max_body_bytes=1024, page_size=5)
    return db, confmod.Config(**fields)


def test_connection_is_kept_and_a_dead_one_replaced(fake_db):
    db, config = fake_db
    db.list_messages(config, 5)
    db.list_messages(config, 5)
    assert len(FakeConnection.made) == 1
    FakeConnection.made[0].dead = True
    db.add_message(config, "a", "b")
    assert len(FakeConnection.made) == 2 and FakeConnection.made[0].closed
    assert FakeConnection.made[1].statements == ["INSERT"]


def test_a_lost_read_runs_again_but_a_lost_write_does_not(fake_db):
    db, config = fake_db
    db.list_messages(config, 5)
    FakeConnection.made[0].lose = True
    assert db.list_messages(config, 5) == []
    assert len(FakeConnection.made) == 2 and FakeConnection.made[1].statements == ["SELECT"]
    FakeConnection.made[1].lose = True
    with pytest.raises(OSError):
        db.add_message(config, "a", "b")
    assert FakeConnection.made[1].statements == ["SELECT"] and len(FakeConnection.made) == 2


def test_migration_statements_split():
    from foobar_app import migrate  # noqa: PLC0415

    sql = (migrate.MIGRATIONS / "0001_create_messages.sql").read_text()
    assert len(migrate.statements(sql)) == 1


def test_client_address_is_the_one_apache_appended(client):
    assert appmod.client_address({"HTTP_X_FORWARDED_FOR": "203.0.113.9, 172.29.250.30"}) == "172.29.250.30"
    assert appmod.client_address({"REMOTE_ADDR": "127.0.0.1"}) == "127.0.0.1"
    answer = client("GET", "/api/client")
    assert answer["status"] == 200 and json.loads(answer["body"])["address"] == ""
    assert client("POST", "/api/client")["status"] == 405
