"""The converged cluster: one floating address, every backend UP, one database for every web node.

Read-only checks first (pytest takes this file before test_cluster_faults.py); every request to the
site goes from the client container to the floating address, or from a web node to itself.
"""

import json
import re
import time

import pytest
from cluster import (CLIENT_ADDRESS, DBS, LBS, LOCAL, SITE, THROUGH_VIP, VIP, WEBS, host, sql, vip_holders,
                     wait_servers_up, wsrep)
from conftest import assert_check_mode_clean, run_playbook, scenario_host

CLIENT = "webstack-cluster-client"


def test_exactly_one_load_balancer_holds_the_floating_address():
    assert len(vip_holders()) == 1, vip_holders()


def test_every_backend_server_is_up_on_both_load_balancers():
    states = wait_servers_up(timeout=30)
    for lb in LBS:
        names = {server for _, server in states[lb]}
        assert set(WEBS) | set(DBS) <= names, (lb, states[lb])


def test_the_releases_are_both_debian_12_and_13():
    releases = {name: host(name).check_output(". /etc/os-release && echo $VERSION_CODENAME") for name in LBS + WEBS + DBS}
    assert set(releases.values()) == {"bookworm", "trixie"}, releases
    assert {releases[name] for name in DBS} == {"bookworm"}, releases


def test_the_page_through_the_floating_address_shows_rows():
    client = host(CLIENT)
    stamp = f"vip-{time.time_ns()}"
    posted = client.check_output(
        f"{THROUGH_VIP}/api/messages -H 'Content-Type: application/json' -d '{{\"name\": \"{stamp}\", \"message\": \"hello\"}}'"
    )
    assert json.loads(posted)["name"] == stamp
    page = client.check_output(f"{THROUGH_VIP}/")
    assert stamp in page and "foobar guestbook" in page


def test_http_redirects_to_https_on_the_floating_address():
    client = host(CLIENT)
    out = client.check_output(f"curl -sS -o /dev/null -w '%{{http_code}} %{{redirect_url}}' --resolve {SITE}:80:{VIP} http://{SITE}/x")
    assert out.startswith("301 https://www.foobar.com/x") or out.startswith("302 https://www.foobar.com/x"), out


def test_http2_and_tls12_plus_on_the_floating_address():
    client = host(CLIENT)
    out = client.check_output(f"curl -ksS -o /dev/null -w '%{{http_version}}' --http2 --resolve {SITE}:443:{VIP} https://{SITE}/")
    assert out == "2", out
    old = client.run(f"curl -ksS -o /dev/null --tls-max 1.1 --resolve {SITE}:443:{VIP} https://{SITE}/")
    assert old.rc != 0, "TLS 1.1 was accepted"


def test_the_web_nodes_serve_the_app_behind_either_front():
    """web1 runs Apache, web2 nginx (webstack_web_server): each node's front serves the app's page
    with the site's headers, asked by a load balancer (the only peer the nodes' firewalls let in)."""
    for web, unit, server in zip(WEBS, ("apache2", "nginx"), ("Apache", "nginx")):
        assert host(web).service(unit).is_running, f"{unit} does not run on {web}"
        address = host(web).check_output("hostname -I").split()[0]
        out = host(LBS[0]).check_output(f"curl -ksS --max-time 10 -D - --resolve {SITE}:443:{address} https://{SITE}/")
        head, _, body = out.partition("\r\n\r\n")
        lines = head.split("\r\n")
        headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
        assert lines[0].split()[1] == "200", head
        assert headers.get("server") == server and headers.get("x-content-type-options") == "nosniff", head
        assert "foobar guestbook" in body, body[:500]


def test_the_app_sees_the_client_address():
    answer = json.loads(host(CLIENT).check_output(f"{THROUGH_VIP}/api/client"))
    assert answer == {"address": CLIENT_ADDRESS, "https": True}, answer
    # The front (Apache on web1, nginx on web2) logs the client and the load balancer it came through.
    logs = "".join(
        host(web).run(f"tail -q -n 50 /var/log/{front}/{SITE}-access.log").stdout
        for web, front in zip(WEBS, ("apache2", "nginx"))
    )
    assert re.search(rf"^{re.escape(CLIENT_ADDRESS)} .* via=172\.29\.250\.1[12]$", logs, re.M), logs[-2000:]


def test_a_row_written_through_one_web_node_is_read_through_the_other_and_on_every_db_node():
    stamp = f"node-{time.time_ns()}"
    web1, web2 = (host(name) for name in WEBS)
    posted = json.loads(web1.check_output(
        f"{LOCAL}/api/messages -H 'Content-Type: application/json' -d '{{\"name\": \"{stamp}\", \"message\": \"x\"}}'"))
    assert stamp in web2.check_output(f"{LOCAL}/api/messages")
    for db in DBS:
        assert sql(db, f"SELECT name FROM messages WHERE id = {int(posted['id'])}") == stamp, db


def test_a_form_token_made_on_one_web_node_is_accepted_on_the_other():
    web1, web2 = (host(name) for name in WEBS)
    page = web1.check_output(f"{LOCAL}/ -c /tmp/cookies -o /tmp/page.html && cat /tmp/page.html")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
    cookie = web1.check_output("grep -o '__Host-foobar_csrf\\s[0-9a-f]*\\|foobar_csrf\\s[0-9a-f]*' /tmp/cookies | tail -n1")
    name, value = cookie.split()
    code = web2.check_output(
        f"{LOCAL}/ -o /dev/null -w '%{{http_code}}' -b '{name}={value}' --data-urlencode csrf_token={token}"
        " --data-urlencode name=cross --data-urlencode message=node")
    assert code == "303", code
    assert web1.file("/etc/foobar-app/secret_key").content == web2.file("/etc/foobar-app/secret_key").content


def test_the_galera_cluster_has_both_nodes_and_the_arbitrator():
    for db in DBS:
        status = wsrep(db)
        assert status["wsrep_cluster_size"] == "3", (db, status)
        assert status["wsrep_cluster_status"] == "Primary" and status["wsrep_local_state_comment"] == "Synced", status
    assert host("webstack-cluster-lb1").service("garbd").is_running


def test_the_database_is_reached_only_through_one_writer():
    """The app's kept connections arrive from the load balancers, all on the active node (db1); db2 is
    the backup and has none."""
    client = host(CLIENT)
    for _ in range(20):
        client.check_output(f"{THROUGH_VIP}/api/messages -o /dev/null")
    query = "SELECT COUNT(*) FROM information_schema.processlist WHERE user = 'foobar'"
    assert int(sql(DBS[0], query)) > 0 and int(sql(DBS[1], query)) == 0
    hosts = "SELECT GROUP_CONCAT(DISTINCT host ORDER BY host) FROM information_schema.processlist WHERE user = 'foobar'"
    # (MariaDB shows the peer's name where Docker's DNS gives one.)
    peers = set(re.sub(r":[0-9]+", "", sql(DBS[0], hosts)).split(","))
    assert peers <= {"172.29.250.11", "172.29.250.12", *(f"{lb}.webstack-cluster-net" for lb in LBS)}, peers
    users = sql(DBS[0], "SELECT GROUP_CONCAT(DISTINCT host ORDER BY host) FROM mysql.user WHERE user = 'foobar'")
    assert users == "172.29.250.11,172.29.250.12", users


def test_the_site_names_point_at_the_floating_address():
    client = host(CLIENT)
    for name in ("www.foobar.com", "foobar.com"):
        assert client.check_output(f"dig +short @172.29.250.41 {name} A") == VIP, name


@pytest.mark.parametrize("name", LBS + WEBS + DBS)
def test_check_mode_is_clean(name):
    assert_check_mode_clean(scenario_host(name), "converge.yml")


def test_a_web_node_is_taken_out_for_maintenance_and_put_back():
    """playbooks/web_node.yml: drained on both load balancers (and it stays so through a reload), then
    ready again once UP."""
    def states():
        return {lb: host(lb).check_output(
            "echo 'show stat' | socat stdio /run/haproxy/admin.sock | awk -F, '$2 == \"webstack-cluster-web2\" {print $18}'")
            for lb in LBS}

    proc = run_playbook("../../playbooks/web_node.yml", "-e", "webstack_web_node=webstack-cluster-web2",
                        "-e", "webstack_web_node_state=drain")
    assert proc.returncode == 0, proc.stdout[-3000:]
    host(LBS[0]).check_output("systemctl reload haproxy")
    time.sleep(2)
    assert set(states().values()) == {"DRAIN"}, states()
    proc = run_playbook("../../playbooks/web_node.yml", "-e", "webstack_web_node=webstack-cluster-web2",
                        "-e", "webstack_web_node_state=ready")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert set(states().values()) == {"UP"}, states()
    bad = run_playbook("../../playbooks/web_node.yml", "-e", "webstack_web_node=nope", "-e", "webstack_web_node_state=drain")
    assert bad.returncode != 0 and "Give webstack_web_node" in bad.stdout
