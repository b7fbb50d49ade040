"""The promises both fronts keep (the apache and the nginx role), as tests over a systemd container.

Each front's scenario imports these tests and gives its `front` fixture: the service and process
name, the Server header, the shipped page's sentence and the header its extra configuration sets.
Every request goes to loopback inside the container, by name through curl's --resolve.
"""

import shlex
import time
from pathlib import Path

import pytest

from conftest import assert_check_mode_clean, assert_running

SITE = "www.foobar.com"
APEX = "foobar.com"
DOCROOT = f"/var/www/{SITE}"
# The static files both scenarios deploy (molecule/nginx/files links to these).
STATIC = Path(__file__).resolve().parent / "apache" / "files" / "site"
CURL = f"curl -sk --max-time 10 --resolve {SITE}:443:127.0.0.1 --resolve {APEX}:443:127.0.0.1"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "content-security-policy": "frame-ancestors 'self'",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def request(host, url, *opts):
    """One request: (status, {lower-case header: [values]}, body)."""
    res = host.run(f"{CURL} -D - {' '.join(opts)} {shlex.quote(url)}")
    assert res.rc == 0, f"curl {url} failed ({res.rc}): {res.stderr}"
    head, _, body = res.stdout.partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(lines[0].split()[1]), headers, body


def header(headers, name):
    values = headers.get(name, [])
    assert len(values) == 1, f"expected one {name} header, got {values}"
    return values[0]


def assert_security_headers(headers, url):
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == [value], f"{url}: {name} is {headers.get(name)}"


def s_client(host, port, *args):
    res = host.run(
        f"timeout 10 openssl s_client -brief -connect 127.0.0.1:{port} -servername {SITE} {' '.join(args)} </dev/null"
    )
    return res.rc, res.stdout + res.stderr


def test_service_running_and_enabled(host, front):
    assert_running(host, front["service"])


@pytest.mark.parametrize("port", [80, 443])
def test_port_listening(host, front, port):
    listening = host.check_output(f"ss -Hltnp 'sport = :{port}'")
    assert listening, f"nothing listens on {port}"
    assert f'(("{front["process"]}"' in listening, listening


def test_http_redirects_to_https(host):
    status, headers, _ = request(host, "http://127.0.0.1/", f"-H 'Host: {SITE}'")
    assert status in (301, 308)
    assert header(headers, "location") == f"https://{SITE}/"
    # Path and query string survive the redirect.
    status, headers, _ = request(host, "http://127.0.0.1/a/b.html?x=1&y=2", f"-H 'Host: {SITE}'")
    assert status in (301, 308) and header(headers, "location") == f"https://{SITE}/a/b.html?x=1&y=2"


def test_https_serves_the_shipped_index_page(host, front):
    status, headers, body = request(host, f"https://{SITE}/")
    assert status == 200
    assert header(headers, "content-type").startswith("text/html")
    assert "<h1>www.foobar.com</h1>" in body
    assert f"This site is served by {front['page']}, set up by foobar.webstack." in body
    assert body == host.file(f"{DOCROOT}/index.html").content_string


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_apex_redirects_to_www(host, scheme):
    url = f"{scheme}://{APEX}/page?q=1" if scheme == "https" else "http://127.0.0.1/page?q=1"
    opts = [] if scheme == "https" else [f"-H 'Host: {APEX}'"]
    status, headers, _ = request(host, url, *opts)
    assert status in (301, 308)
    assert header(headers, "location") == f"https://{SITE}/page?q=1"


def test_static_dir_deployed_and_versioned_assets_cached_for_good(host):
    status, headers, body = request(host, f"https://{SITE}/static/app.3f9a1c.css")
    assert status == 200
    assert body == (STATIC / "static" / "app.3f9a1c.css").read_text()
    cache = header(headers, "cache-control")
    assert "max-age=31536000" in cache and "immutable" in cache
    status, _, body = request(host, f"https://{SITE}/robots.txt")
    assert status == 200 and body == (STATIC / "robots.txt").read_text()
    # Unversioned pages are not cached for good.
    _, headers, _ = request(host, f"https://{SITE}/")
    assert "immutable" not in " ".join(headers.get("cache-control", []))


@pytest.mark.parametrize("url", [f"https://{SITE}/", f"https://{SITE}/no-such-page", "http://127.0.0.1/"])
def test_server_header_shows_no_version(host, front, url):
    status, headers, body = request(host, url)
    assert header(headers, "server") == front["server"]
    if status == 404:
        assert f"{front['server']}/" not in body and "Debian" not in body


@pytest.mark.parametrize(
    "path",
    ["/.git/config", "/.git/", "/.env", "/index.html.bak", "/dump.sql", "/notes.txt~", "/DUMP.SQL"],
)
def test_hidden_and_backup_files_refused(host, path):
    on_disk = DOCROOT + path.rstrip("/").replace("DUMP.SQL", "dump.sql")
    assert host.file(on_disk).exists, f"precondition: {on_disk} exists in the document root"
    status, _, body = request(host, f"https://{SITE}{path}")
    assert status in (403, 404), f"{path} answered {status}"
    assert "do-not-serve" not in body and "repositoryformatversion" not in body and "DROP TABLE" not in body


def test_well_known_still_served(host):
    status, _, body = request(host, f"https://{SITE}/.well-known/security.txt")
    assert status == 200 and "Contact: mailto:security@foobar.com" in body


def test_directory_listing_refused(host):
    status, _, body = request(host, f"https://{SITE}/listing/")
    assert status in (403, 404)
    assert "Index of" not in body and "a.txt" not in body
    status, _, body = request(host, f"https://{SITE}/listing/a.txt")  # the directory itself is served
    assert status == 200 and body == "listed file\n"


@pytest.mark.parametrize(
    "url",
    [
        f"https://{SITE}/",  # a page
        "http://127.0.0.1/",  # a redirect
        f"https://{SITE}/static/app.3f9a1c.css",  # a static file with its own Cache-Control
        f"https://{SITE}/no-such-page",  # an error
        f"https://{SITE}/.env",  # a refusal
        f"https://{SITE}/app/hello.txt",  # a location a hook added
    ],
)
def test_security_headers_on_every_answer(host, url):
    _, headers, _ = request(host, url)
    assert_security_headers(headers, url)
    assert "strict-transport-security" not in headers  # off by default with a self-signed certificate


@pytest.mark.parametrize("version", ["tls1", "tls1_1"])
def test_old_tls_refused_by_the_server(host, front, version):
    # Control: this client, at OpenSSL security level 0, still speaks the old protocol to a server
    # that offers it; so a failure against the front is the front's refusal, not the client's.
    host.check_output(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout /tmp/control.key -out /tmp/control.crt "
        "-subj /CN=control -days 1 2>/dev/null"
    )
    host.run(
        f"(timeout 20 openssl s_server -www -accept 127.0.0.1:9443 -cert /tmp/control.crt -key /tmp/control.key "
        f"-{version} -cipher DEFAULT@SECLEVEL=0 -naccept 1 </dev/null >/dev/null 2>&1 &)"
    )
    for _ in range(40):
        if host.run("ss -Hltn 'sport = :9443' | grep -q 9443").rc == 0:
            break
        time.sleep(0.25)
    rc, out = s_client(host, 9443, f"-{version}", "-cipher DEFAULT@SECLEVEL=0")
    expected = {"tls1": "TLSv1", "tls1_1": "TLSv1.1"}[version]
    assert rc == 0 and f"Protocol version: {expected}\n" in out, f"control handshake failed:\n{out}"

    rc, out = s_client(host, 443, f"-{version}", "-cipher DEFAULT@SECLEVEL=0")
    assert rc != 0, f"{front['service']} accepted {version}:\n{out}"
    assert "alert protocol version" in out, out


@pytest.mark.parametrize("version,expected", [("tls1_2", "TLSv1.2"), ("tls1_3", "TLSv1.3")])
def test_modern_tls_accepted(host, version, expected):
    rc, out = s_client(host, 443, f"-{version}")
    assert rc == 0 and f"Protocol version: {expected}\n" in out, out
    if version == "tls1_2":
        assert "Ciphersuite: ECDHE-" in out and ("GCM" in out or "CHACHA20" in out), out


def test_weak_tls12_cipher_refused(host):
    rc, out = s_client(host, 443, "-tls1_2", "-cipher AES128-SHA")  # no forward secrecy, CBC
    assert rc != 0 and "handshake failure" in out, out


def test_http2_negotiated(host):
    assert host.check_output(f"{CURL} --http2 -o /dev/null -w '%{{http_version}}' https://{SITE}/") == "2"


def test_html_compressed(host):
    out = host.check_output(
        f"{CURL} -H 'Accept-Encoding: gzip' -D /tmp/gzip.head -o /tmp/gzip.body https://{SITE}/ "
        "&& grep -i '^content-encoding:' /tmp/gzip.head"
    )
    assert out.split(":", 1)[1].strip() == "gzip"
    assert host.check_output("gunzip -c < /tmp/gzip.body") == host.file(f"{DOCROOT}/index.html").content_string.strip()


def test_keepalive_reuses_the_connection(host):
    out = host.check_output(
        f"{CURL} --http1.1 -o /dev/null -o /dev/null -w '%{{num_connects}}\\n' https://{SITE}/ https://{SITE}/robots.txt"
    )
    assert out.split() == ["1", "0"]


def test_server_status_for_localhost_only(host, front):
    status, _, body = request(host, f"https://{SITE}/server-status?auto")
    assert status == 200 and front["status_text"] in body
    # The container's own address is "local" to Apache's `Require local`, but not allowed here.
    ip = host.check_output("ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1")
    out = host.check_output(
        f"curl -sk --max-time 10 --resolve {SITE}:443:{ip} -o /dev/null -w '%{{http_code}}' https://{SITE}/server-status"
    )
    assert out == "403"


def test_hook_and_extra_config_active(host, front):
    _, headers, _ = request(host, f"https://{SITE}/")
    assert header(headers, "x-webstack-extra") == front["extra_header"]
    status, _, body = request(host, f"https://{SITE}/app/hello.txt")
    assert status == 200 and body == "hello from the backend\n"
    # The backend itself would hand out its .env; through the site the refusals still apply.
    assert host.check_output("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8081/.env") == "200"
    status, _, body = request(host, f"https://{SITE}/app/.env")
    assert status == 403 and "BACKEND_SECRET" not in body


def test_self_signed_certificate(host):
    cert = host.check_output(f"openssl x509 -in /etc/ssl/foobar-webstack/{SITE}.crt -noout -subject -ext subjectAltName")
    assert f"subject=CN={SITE}" in cert.replace(" = ", "=") and f"DNS:{SITE}, DNS:{APEX}" in cert
    key = host.file(f"/etc/ssl/foobar-webstack/private/{SITE}.key")
    assert key.mode == 0o600 and key.user == "root"
    served = host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {SITE} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint"
    )
    on_disk = host.check_output(f"openssl x509 -in /etc/ssl/foobar-webstack/{SITE}.crt -noout -fingerprint")
    assert served == on_disk


def test_check_mode_is_clean(host):
    assert_check_mode_clean(host)
