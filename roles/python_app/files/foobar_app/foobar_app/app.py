"""The foobar guestbook: a small WSGI app on MariaDB.

GET  /               the page: messages from the database and a form to add one
POST /               the form (CSRF token, length limits); redirects back to / (303)
GET  /api/messages   the messages as JSON
POST /api/messages   add a message from JSON {"name": ..., "message": ...} (201)
GET  /healthz        200 when the database answers, 503 when it does not
"""

import hashlib
import hmac
import html
import json
import secrets
from urllib.parse import parse_qs

from . import __version__
from . import config as app_config
from . import db

NAME_MAX = 80
MESSAGE_MAX = 500
CSRF_COOKIE = "foobar_csrf"
# Over HTTPS the cookie carries the __Host- prefix: browsers then accept it only with Secure, Path=/
# and no Domain, so no other host of the domain (and no plain-HTTP page) can set or shadow it.
CSRF_COOKIE_HTTPS = "__Host-" + CSRF_COOKIE
# Largest oversized body read and dropped before a 413 (a larger one is answered at once).
DRAIN_MAX = 1024 * 1024

STATUS = {
    200: "200 OK",
    201: "201 Created",
    303: "303 See Other",
    400: "400 Bad Request",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    411: "411 Length Required",
    413: "413 Content Too Large",
    415: "415 Unsupported Media Type",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def read_cookies(header):
    """name -> value of the Cookie header, skipping what is malformed. Python's SimpleCookie stops at
    the first cookie it cannot parse, so one odd cookie of another app on the domain (x={"a":1})
    would hide ours; browsers send `name=value` pairs separated by `;`, read here one by one."""
    cookies = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or any(c in name for c in ' \t,"\\()<>@:/[]?={}'):
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies.setdefault(name, value)  # the first one is the most specific path (RFC 6265)
    return cookies


def is_https(environ):
    """The visitor's scheme: Apache (the only peer on the app's socket) says it in X-Forwarded-Proto."""
    return environ.get("HTTP_X_FORWARDED_PROTO", environ.get("wsgi.url_scheme", "http")).lower() == "https"


def client_address(environ):
    """The visitor's address. Apache (the only peer on the app's socket) appends the address it
    served to X-Forwarded-For: the last entry is that one, whatever the client put before it. Behind
    load balancers Apache's mod_remoteip has already replaced their address with the client's."""
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
    last = forwarded.split(",")[-1].strip()
    return last or environ.get("REMOTE_ADDR", "")


def csrf_token(secret, nonce):
    """The visitor's token: an HMAC of their cookie's nonce with the app's secret (hex)."""
    return hmac.new(secret, nonce.encode(), hashlib.sha256).hexdigest()


def mask_token(token):
    """The token as a page carries it: a fresh random pad, then the token XOR the pad (hex). Each
    answer carries other bytes, so a compressed page that also shows what visitors wrote leaks
    nothing of the token through its compressed length (BREACH); static files stay compressed."""
    raw = bytes.fromhex(token)
    pad = secrets.token_bytes(len(raw))
    return (pad + bytes(a ^ b for a, b in zip(raw, pad))).hex()


def unmask_token(sent):
    """The token a form sent masked (mask_token), or "" for anything else."""
    try:
        data = bytes.fromhex(sent)
    except ValueError:
        return ""
    if len(data) != 2 * hashlib.sha256().digest_size:
        return ""
    half = len(data) // 2
    return bytes(a ^ b for a, b in zip(data[half:], data[:half])).hex()


def validate(name, message):
    """Return (name, message) stripped, or raise HttpError(400)."""
    if not isinstance(name, str) or not isinstance(message, str):
        raise HttpError(400, "name and message must be text")
    name, message = name.strip(), message.strip()
    if not name or not message:
        raise HttpError(400, "name and message are required")
    if len(name) > NAME_MAX:
        raise HttpError(400, f"name is longer than {NAME_MAX} characters")
    if len(message) > MESSAGE_MAX:
        raise HttpError(400, f"message is longer than {MESSAGE_MAX} characters")
    return name, message


class App:
    def __init__(self, config=None):
        self.config = config or app_config.load()

    # -- helpers ---------------------------------------------------------------------------
    def read_body(self, environ):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError as exc:
            raise HttpError(400, "bad Content-Length") from exc
        if length > self.config.max_body_bytes:
            # Read (and drop) a moderately oversized body before answering: a server that answers
            # and closes while the client or proxy is still sending gets a reset, not the 413.
            stream, left = environ["wsgi.input"], min(length, DRAIN_MAX)
            while left > 0 and (chunk := stream.read(min(left, 65536))):
                left -= len(chunk)
            raise HttpError(413, f"request body larger than {self.config.max_body_bytes} bytes")
        if length <= 0:
            raise HttpError(411, "a request body with Content-Length is required")
        return environ["wsgi.input"].read(length)

    @staticmethod
    def respond(start_response, status, body, content_type="text/html; charset=utf-8", headers=()):
        data = body.encode("utf-8") if isinstance(body, str) else body
        start_response(
            STATUS[status],
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(data))),
                ("Cache-Control", "no-store"),
                *headers,
            ],
        )
        return [data]

    def page(self, nonce, error=""):
        rows = db.list_messages(self.config, self.config.page_size)
        items = "\n".join(
            f'<li><strong>{html.escape(row["name"])}</strong> '
            f'<span class="meta">{html.escape(str(row["created_at"]))}</span>'
            f'<p>{html.escape(row["message"])}</p></li>'
            for row in rows
        )
        token = mask_token(csrf_token(self.config.secret_key, nonce))
        err = f'<p class="error">{html.escape(error)}</p>' if error else ""
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>foobar guestbook</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/style.css?v={html.escape(__version__)}"></head>
<body><h1>foobar guestbook</h1>
<p class="meta">{len(rows)} messages from the database &middot; app {html.escape(__version__)}</p>
{err}
<form method="post" action="/">
<input type="hidden" name="csrf_token" value="{token}">
<label>Name <input name="name" maxlength="{NAME_MAX}" required></label>
<label>Message <textarea name="message" maxlength="{MESSAGE_MAX}" required></textarea></label>
<button type="submit">Sign</button>
</form>
<ul class="messages">
{items}
</ul></body></html>
"""

    # -- routes ----------------------------------------------------------------------------
    def index(self, environ, start_response):
        https = is_https(environ)
        cookie_name = CSRF_COOKIE_HTTPS if https else CSRF_COOKIE
        cookies = read_cookies(environ.get("HTTP_COOKIE", ""))
        nonce = cookies.get(cookie_name, "")
        headers = []
        if len(nonce) != 32 or any(c not in "0123456789abcdef" for c in nonce):
            nonce = secrets.token_hex(16)
            secure = "; Secure" if https else ""
            headers.append(("Set-Cookie", f"{cookie_name}={nonce}; Path=/; HttpOnly{secure}; SameSite=Strict"))
        if environ["REQUEST_METHOD"] in ("GET", "HEAD"):
            return self.respond(start_response, 200, self.page(nonce), headers=headers)
        if environ["REQUEST_METHOD"] != "POST":
            raise HttpError(405, "method not allowed")
        form = parse_qs(self.read_body(environ).decode("utf-8", "replace"), keep_blank_values=True)
        sent = form.get("csrf_token", [""])[0]
        expected = csrf_token(self.config.secret_key, nonce)
        if cookie_name not in cookies or not hmac.compare_digest(unmask_token(sent), expected):
            raise HttpError(403, "missing or invalid CSRF token")
        name, message = validate(form.get("name", [""])[0], form.get("message", [""])[0])
        db.add_message(self.config, name, message)
        return self.respond(start_response, 303, "", headers=[("Location", "/")])

    def api_messages(self, environ, start_response):
        if environ["REQUEST_METHOD"] in ("GET", "HEAD"):
            rows = db.list_messages(self.config, self.config.page_size)
            body = [
                {"id": r["id"], "name": r["name"], "message": r["message"], "created_at": str(r["created_at"])}
                for r in rows
            ]
            return self.respond(start_response, 200, json.dumps(body), "application/json")
        if environ["REQUEST_METHOD"] != "POST":
            raise HttpError(405, "method not allowed")
        # JSON only: a cross-site form cannot send it without a CORS preflight.
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip() != "application/json":
            raise HttpError(415, "Content-Type must be application/json")
        try:
            data = json.loads(self.read_body(environ))
        except ValueError as exc:
            raise HttpError(400, "body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise HttpError(400, "body must be a JSON object")
        name, message = validate(data.get("name"), data.get("message"))
        new_id = db.add_message(self.config, name, message)
        return self.respond(
            start_response, 201, json.dumps({"id": new_id, "name": name, "message": message}), "application/json"
        )

    def api_client(self, environ, start_response):
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            raise HttpError(405, "method not allowed")
        body = {"address": client_address(environ), "https": is_https(environ)}
        return self.respond(start_response, 200, json.dumps(body), "application/json")

    def healthz(self, environ, start_response):
        try:
            healthy = db.ping(self.config)
        except Exception:  # noqa: BLE001 - any database failure means unhealthy
            healthy = False
        if healthy:
            return self.respond(start_response, 200, "ok\n", "text/plain; charset=utf-8")
        return self.respond(start_response, 503, "database unavailable\n", "text/plain; charset=utf-8")

    ROUTES = {"/": index, "/api/messages": api_messages, "/api/client": api_client, "/healthz": healthz}

    def __call__(self, environ, start_response):
        route = self.ROUTES.get(environ.get("PATH_INFO") or "/")
        json_api = (environ.get("PATH_INFO") or "").startswith("/api/")
        try:
            if route is None:
                raise HttpError(404, "not found")
            return route(self, environ, start_response)
        except HttpError as err:
            if json_api:
                return self.respond(start_response, err.status, json.dumps({"error": err.message}), "application/json")
            body = f"<!doctype html><title>{err.status}</title><p>{html.escape(err.message)}</p>"
            return self.respond(start_response, err.status, body)
        except Exception:  # noqa: BLE001 - never leak a traceback to the client
            environ["wsgi.errors"].write("foobar_app: unhandled error\n")
            import traceback  # pylint: disable=import-outside-toplevel

            traceback.print_exc(file=environ["wsgi.errors"])
            return self.respond(start_response, 503, "service unavailable\n", "text/plain; charset=utf-8")


def create_app():
    """gunicorn entry point: `foobar_app.app:create_app()`."""
    return App()
