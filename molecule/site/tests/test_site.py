"""The whole stack from site.yml, checked the way a visitor meets it.

The controller asks the scenario's DNS container for www.foobar.com, then speaks HTTPS to the
address it got, with the site's name for SNI and Host: DNS record, the front (nginx here), the app
and MariaDB in one path. Traffic goes only to the scenario's own two containers.

prepare.yml ran the site with Apache and signed the guestbook; converge moved it to nginx.
side_effect.yml signed it again and restarted nginx and MariaDB before the second run of site.yml
(Molecule's idempotence step, which allows no change); both marker rows must still be there.
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

from conftest import assert_check_mode_clean, assert_running, host_address, journal, recap, run_playbook, scenario_host

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
    for unit in ("nginx", "mariadb", "foobar-app.socket", "ssh"):
        assert_running(web, unit)
    for unit in ("named", "ssh"):
        assert_running(ns, unit)


def test_the_move_from_apache_to_nginx_freed_the_ports_and_lost_nothing(web):
    """prepare.yml served the site with Apache; one run of site.yml with webstack_web_server: nginx
    moved it: Apache stopped, disabled and off the ports, still installed with its configuration,
    nginx on 80 and 443, and the row signed through Apache still there."""
    apache = web.service("apache2")
    assert not apache.is_running and not apache.is_enabled
    assert web.package("apache2").is_installed and web.file("/etc/apache2/sites-available/foobar-webstack.conf").exists
    for port in (80, 443):
        listening = web.check_output(f"ss -Hltnp 'sport = :{port}'")
        assert '(("nginx"' in listening and "apache2" not in listening, listening
    marker = web.file("/root/site_marker_apache").content_string.strip()
    assert marker.startswith("survivor ")
    assert sql(web, f"SELECT COUNT(*) FROM messages WHERE message = '{marker}'") == "1"


def test_hosts_are_based(web, ns):
    assert web.check_output("hostname -f") == "web1.foobar.com"
    assert ns.check_output("hostname -f") == "ns1.foobar.com"
    rulesets = {name: host.check_output("nft list table inet foobar_webstack") for name, host in (("web", web), ("ns", ns))}
    for ruleset in rulesets.values():
        assert "policy drop" in ruleset
    # The inventory lists no port: linux_base opens SSH, each service role its own port (a drop-in).
    assert re.search(r"tcp dport 22 accept", rulesets["web"]), rulesets["web"]
    assert re.search(r"tcp dport \{ 80, 443 \} accept", rulesets["web"]), rulesets["web"]
    assert not re.search(r"dport 53", rulesets["web"]), rulesets["web"]
    assert re.search(r"tcp dport 53 accept", rulesets["ns"]), rulesets["ns"]
    assert re.search(r"udp dport 53 accept", rulesets["ns"]), rulesets["ns"]
    assert not re.search(r"dport \{ 80, 443 \}", rulesets["ns"]), rulesets["ns"]
    assert web.file("/etc/foobar-webstack/nftables.d/50-nginx.nft").exists
    assert not web.file("/etc/foobar-webstack/nftables.d/50-apache.nft").exists  # retired with Apache
    assert ns.file("/etc/foobar-webstack/nftables.d/50-dns_server.nft").exists


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
    # Neither a version nor the backend: nginx says "nginx", the app's own Server header is dropped.
    assert headers.get("server") == "nginx", headers


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
    assert not re.search(r"password\s*=", web.check_output("cat /etc/nginx/foobar-webstack/*.d/*.conf"))


def test_no_secret_or_config_in_the_hosts_journals(web, ns):
    """After two converges, the journals hold none of the generated secrets, the app's configuration or
    the TSIG secret (the files module logs no arguments; every task with a secret has no_log)."""
    secrets = [web.file(f"/etc/foobar-app/{name}").content_string.strip() for name in ("db_password", "secret_key")]
    config = [line.strip() for line in web.file("/etc/foobar-app/app.ini").content_string.splitlines() if "=" in line]
    assert all(len(s) >= 32 for s in secrets) and config
    web_journal = web.check_output("journalctl --no-pager -o cat")
    assert "Invoked with" in web_journal  # the journal does hold module invocations: the check can fail
    for needle in secrets + [line for line in config if "secret" in line or "dsn" in line]:
        assert needle not in web_journal, f"found in the web host's journal: {needle[:12]}..."
    key = ns.file("/etc/ansible/facts.d/foobar_webstack_dns_server.fact").content_string
    tsig = re.search(r'"secret": "([^"]+)"', key).group(1)
    assert ns.file("/etc/ansible/facts.d/foobar_webstack_dns_server.fact").mode == 0o600
    assert tsig not in ns.check_output("journalctl --no-pager -o cat")


UPLOAD = 8 * 1024 * 1024


@pytest.mark.parametrize("protocol", ["--http1.1", "--http2"])
def test_upload_over_the_limit_gets_413(ns, web_ip, protocol):
    """An 8 MiB body is refused with 413 over both protocols (curl of Debian 13 on the DNS host, which
    takes an early answer to an unfinished HTTP/2 upload as HTTP/2 allows), and the site still answers."""
    curl = f"curl -sk {protocol} --resolve {SITE}:443:{web_ip} -o /dev/null -w '%{{http_code}}'"
    cmd = ns.run(f"head -c {UPLOAD} /dev/zero | tr '\\0' a | {curl} -X POST -H 'Content-Type: application/json' "
                 f"--data-binary @- https://{SITE}/api/messages")
    assert cmd.rc == 0 and cmd.stdout == "413", (cmd.rc, cmd.stdout, cmd.stderr)
    nxt = ns.run(f"{curl} https://{SITE}/healthz")
    assert nxt.stdout == "200", (nxt.rc, nxt.stdout, nxt.stderr)


def test_app_database_is_backed_up_and_restored(web):
    """The app's database is on the backup list with no inventory setting: write a row, run the backup
    unit, drop the table, restore with the documented playbook, and the row is back."""
    assert "foobar" in web.file("/etc/foobar-webstack/mysql-backup.d/foobar.list").content_string.split()
    marker = f"backed up {uuid.uuid4().hex}"
    sql(web, f"INSERT INTO messages (name, message) VALUES ('backup test', '{marker}')")
    backup = web.run("systemctl start foobar-webstack-mysql-backup.service")
    assert backup.rc == 0, journal(web, "foobar-webstack-mysql-backup")
    dumps = web.check_output("ls /var/backups/mysql/foobar/").split()
    assert dumps and all(d.startswith("foobar-") and d.endswith(".sql.gz") for d in dumps), dumps
    sql(web, "DROP TABLE messages")
    assert web.run("mariadb -N -B foobar -e 'SELECT 1 FROM messages LIMIT 1'").rc != 0
    proc = run_playbook("../../playbooks/restore.yml", "-e", "mysql_restore_database=foobar", limit="web")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert sql(web, f"SELECT COUNT(*) FROM messages WHERE message = '{marker}'") == "1"


def test_limit_web_deploy_runs_alone(web):
    """`site.yml --limit web`, the daily deploy of the web tier: the DNS play reads the DNS host's
    address and key from the host itself, and the converged web host has nothing to change."""
    proc = run_playbook("converge.yml", limit="web")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    counts = recap(proc.stdout)
    assert set(counts) == {WEB}, counts
    assert counts[WEB]["changed"] == 0 and counts[WEB]["failed"] == 0, output[-6000:]
    assert "Set the site's DNS records" in output


def test_check_mode_is_clean(web, ns):
    """site.yml with --check --diff on the converged hosts fails nothing and would change nothing."""
    assert_check_mode_clean(web)
    assert_check_mode_clean(ns)
