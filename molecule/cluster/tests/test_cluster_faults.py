"""Faults under load: each test runs the bounded load loop on the client container against the
floating address, breaks one thing, counts the failed requests and puts the cluster back.

Runs after test_cluster.py (pytest takes the files in name order). The order below is the order
an operator would meet them: a node's Apache dies, a node's app stops, the active load balancer
dies, the database writer dies, then a rolling deploy of a new release and a broken one.
"""

import time

import pytest

from cluster import (DBS, LBS, WEBS, failures_after, haproxy_servers, host, sql, start_load, stop_load, summary,
                     vip_holders, wait_servers_up, wait_synced)
from conftest import app_copy, host_output, recap, run_playbook

def current_release(name):
    return host(name).file("/srv/foobar/current").linked_to


def test_a_dead_web_node_costs_no_request_after_two_seconds():
    wait_servers_up()
    tag = start_load("apache", duration=60)
    time.sleep(2)
    killed = time.time()
    host(WEBS[0]).check_output("systemctl kill --signal=KILL apache2")
    time.sleep(8)
    result = stop_load(tag)
    host(WEBS[0]).check_output("systemctl restart apache2")
    wait_servers_up()
    late = failures_after(result, killed + 2)
    print("apache killed:", summary(result))
    assert result["requests"] >= 150 and not late, summary(result)


@pytest.mark.parametrize("web", WEBS, ids=["web1-apache", "web2-nginx"])
def test_a_web_node_whose_app_stops_costs_no_page_request(web):
    # The node's front answers 503 (Apache) or 502 (nginx) until HAProxy's check takes the node out:
    # HAProxy tries each of those GETs again on the other node (retry-on 502 503), so no visitor sees one.
    wait_servers_up()
    tag = start_load("app", duration=60)
    time.sleep(2)
    try:
        host(web).check_output("systemctl stop foobar-app.socket foobar-app.service")
        time.sleep(8)
        result = stop_load(tag)
        states = {lb: haproxy_servers(lb)[("foobar_webstack_web", web)] for lb in LBS}
    finally:
        host(web).check_output("systemctl start foobar-app.socket")
    wait_servers_up()
    print(f"app stopped on {web}:", summary(result))
    assert all(state.startswith("DOWN") for state in states.values()), states
    assert result["requests"] >= 150 and result["failed"] == 0, summary(result)


def test_the_floating_address_moves_when_the_active_haproxy_stops():
    wait_servers_up()
    (active,) = vip_holders()
    tag = start_load("haproxy", duration=60)
    time.sleep(2)
    stopped = time.time()
    host(active).check_output("systemctl stop haproxy")
    deadline = time.time() + 10
    while vip_holders() in ([], [active]) and time.time() < deadline:
        time.sleep(0.2)
    moved_after = time.time() - stopped
    time.sleep(6)
    result = stop_load(tag)
    holders = vip_holders()
    host(active).check_output("systemctl start haproxy")
    wait_servers_up()
    print(f"haproxy stopped: address moved after {moved_after:.1f} s;", summary(result))
    assert holders == [lb for lb in LBS if lb != active], holders
    assert result["failure_window"] <= 3 and not failures_after(result, stopped + 3.5), summary(result)
    assert result["requests"] >= 150, summary(result)


def test_writes_resume_within_ten_seconds_when_the_database_writer_dies_and_no_committed_row_is_lost():
    wait_servers_up()
    writer = DBS[0]  # the active server of the database frontend; the other is its backup
    tag = start_load("writer", duration=90, write=True)
    time.sleep(3)
    killed = time.time()
    host(writer).check_output("systemctl kill --signal=KILL mariadb")
    time.sleep(15)
    result = stop_load(tag)
    late = failures_after(result, killed + 10)
    print("database writer killed:", summary(result))
    assert result["committed"] and not late, summary(result)
    # systemd restarts the killed server; it rejoins (IST) and holds every committed row.
    for db in DBS:
        wait_synced(db, 3)
    ids = ",".join(str(i) for i in result["committed"])
    for db in DBS:
        found = int(sql(db, f"SELECT COUNT(*) FROM messages WHERE id IN ({ids})"))
        assert found == len(result["committed"]), (db, found, len(result["committed"]))
    wait_servers_up()


def deploy(version, source_dir, *extra):
    """site.yml for the web nodes (the load balancers are reached by delegation), one node at a time."""
    return run_playbook("converge.yml", "-e", f"python_app_version={version}", "-e", "python_app_source=dir",
                        "-e", f"python_app_source_path={source_dir}", *extra, limit="web")


def test_a_rolling_deploy_drops_no_request(tmp_path):
    wait_servers_up()
    tag = start_load("rolling", duration=400)
    started = time.time()
    proc = deploy("1.1.0", app_copy(tmp_path, "1.1.0"))
    took = time.time() - started
    time.sleep(2)
    result = stop_load(tag)
    print(f"rolling deploy in {took:.0f} s:", summary(result))
    assert proc.returncode == 0, proc.stdout[-4000:]
    for web in WEBS:
        assert current_release(web) == "/srv/foobar/releases/1.1.0", web
    assert result["failed"] == 0, summary(result)
    assert set(result["versions"]) == {"1.0.0", "1.1.0"}, summary(result)
    # One node at a time: both drained and back, in inventory order.
    drains = [line for line in proc.stdout.splitlines() if line.startswith("TASK [") and "Drain this web node" in line]
    assert len(drains) == 2, drains


def test_a_broken_release_stops_the_rollout_at_the_first_node_and_drops_no_request(tmp_path):
    wait_servers_up()
    tag = start_load("broken", duration=400)
    proc = deploy("1.2.0-broken", app_copy(tmp_path, "1.2.0-broken", broken=True), "-e", "python_app_health_timeout=6")
    time.sleep(2)
    result = stop_load(tag)
    print("broken release:", summary(result))
    assert proc.returncode != 0
    first, second = WEBS
    said = host_output(proc.stdout, first)
    assert "ROLLED BACK" in said and "HEALTHY again" in said, said[-3000:]
    assert recap(proc.stdout)[first]["failed"] == 1
    # The second node never saw the broken release; both serve the release that was in service.
    assert not host(second).file("/srv/foobar/releases/1.2.0-broken").exists
    for web in WEBS:
        assert current_release(web) == "/srv/foobar/releases/1.1.0", web
    assert result["failed"] == 0, summary(result)
    assert set(result["versions"]) == {"1.1.0"}, summary(result)
    wait_servers_up()
