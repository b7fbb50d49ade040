"""The whole stack from site.yml, checked the way a visitor meets it.

The controller asks the scenario's DNS container for www.foobar.com, then speaks HTTPS to the
address it got, with the site's name for SNI and Host: DNS record, Apache, the app and MariaDB in
one path. Traffic goes only to the scenario's own two containers.

side_effect.yml signed the guestbook and restarted Apache and MariaDB before the second run of
site.yml (Molecule's idempotence step, which allows no change); the marker row must still be there.
"""

import http.client
import re
import socket
import ssl
import uuid

import dns.message
import dns.query
import dns.rdatatype
import pytest

from conftest import assert_check_mode_clean, assert_running, host_address, scenario_host

WEB = "webstack-site-web"
NS = "webstack-site-dns"
SITE = "www.foobar.com"
APEX = "foobar.com"


@pytest.fixture(scope="module")
def web():
    return scenario_host(WEB)


@pytest.fixture(scope="module")
def ns():
    return scenario_host(NS)


@pytest.fixture(scope="module")
def web_ip(web):
    return host_address(web)


@pytest.fixture(scope="module")
def ns_ip(ns):
    return host_address(ns)


def resolve(ns_ip, name):
    """The A records the scenario's DNS server gives for name (authoritative answer)."""
    reply = dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), ns_ip, port=53, timeout=5)
    return sorted(r.address for rrset in reply.answer for r in rrset if r.rdtype == dns.rdatatype.A)


class SiteHTTPS(http.client.HTTPSConnection):
    """HTTPS to a given address with the site's name for SNI (the certificate is self-signed)."""

    def __init__(self, address, name=SITE):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        super().__init__(name, 443, context=context, timeout=15)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def request(address, path="/", method="GET", https=True, name=SITE):
    conn = SiteHTTPS(address, name) if https else http.client.HTTPConnection(address, 80, timeout=15)
    try:
        conn.request(method, path, headers={"Host": name})
        resp = conn.getresponse()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def sql(web, query):
    return web.check_output(f"mariadb -N -B foobar -e {query!r}")


def test_services_run(web, ns):
    for unit in ("apache2", "mariadb", "foobar-app.socket", "ssh"):
        assert_running(web, unit)
    for unit in ("named", "ssh"):
        assert_running(ns, unit)


def test_hosts_are_based(web, ns):
    assert web.check_output("hostname -f") == "web1.foobar.com"
    assert ns.check_output("hostname -f") == "ns1.foobar.com"
    rulesets = {name: host.check_output("nft list table inet foobar_webstack") for name, host in (("web", web), ("ns", ns))}
    for ruleset in rulesets.values():
        assert "policy drop" in ruleset
    assert re.search(r"tcp dport \{ 22, 80, 443 \} accept", rulesets["web"]), rulesets["web"]
    assert re.search(r"udp dport 53 accept", rulesets["ns"]), rulesets["ns"]


def test_dns_points_the_domain_at_the_web_host(ns_ip, web_ip):
    for name in (SITE, APEX):
        assert resolve(ns_ip, name) == [web_ip], f"{name} does not resolve to the web host {web_ip}"


def test_page_through_dns_shows_rows_from_the_database(web, ns_ip):
    marker = f"row {uuid.uuid4().hex} written straight to MariaDB"
    sql(web, f"INSERT INTO messages (name, message) VALUES ('site test', '{marker}')")
    (address,) = resolve(ns_ip, SITE)
    status, headers, body = request(address)
    assert status == 200, body[:500]
    assert "foobar guestbook" in body and marker in body
    # Neither a version nor the backend: Apache says "Apache", the app's own Server header is dropped.
    assert headers.get("server", "Apache") == "Apache", headers


def test_guestbook_row_survived_restarts_and_the_second_run(web, ns_ip):
    marker = web.file("/root/site_marker").content_string.strip()
    assert marker.startswith("survivor ")
    assert sql(web, f"SELECT COUNT(*) FROM messages WHERE message = '{marker}'") == "1"
    (address,) = resolve(ns_ip, SITE)
    status, _, body = request(address)
    assert status == 200 and marker in body


def test_health_and_static_files(web_ip):
    status, _, body = request(web_ip, "/healthz")
    assert status == 200 and body.strip() == "ok"
    status, headers, _ = request(web_ip, "/static/style.css")
    assert status == 200 and headers["content-type"].startswith("text/css")
    assert "immutable" in headers.get("cache-control", "")


def test_http_and_apex_redirect_to_the_canonical_https_site(web_ip):
    for name in (SITE, APEX):
        status, headers, _ = request(web_ip, "/", https=False, name=name)
        assert status in (301, 308) and headers["location"] == f"https://{SITE}/"
    status, headers, _ = request(web_ip, "/", name=APEX)
    assert status in (301, 308) and headers["location"] == f"https://{SITE}/"


def test_hidden_files_are_not_served(web_ip):
    for path in ("/.git/config", "/.env"):
        status, _, _ = request(web_ip, path)
        assert status in (403, 404), f"{path} answered {status}"


def test_app_config_is_private(web):
    config = web.file("/etc/foobar-app/app.ini")
    assert config.user == "root" and config.group == "foobar" and config.mode == 0o640
    assert not re.search(r"password\s*=", web.check_output("cat /etc/apache2/foobar-webstack/*.d/*.conf"))


def test_check_mode_is_clean(web, ns):
    """site.yml with --check --diff on the converged hosts fails nothing and would change nothing."""
    assert_check_mode_clean(web)
    assert_check_mode_clean(ns)
