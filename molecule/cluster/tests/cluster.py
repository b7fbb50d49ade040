"""Helpers of the cluster scenario's tests: its hosts, HAProxy's view, SQL on a node, the load loop."""

import json
import re
import time

from conftest import scenario_host

# A line of HAProxy's HTTP log for an answer with a 5xx status.
HTTP_5XX = re.compile(r" 5[0-9][0-9] ")
VIP = "172.29.250.200"
CLIENT_ADDRESS = "172.29.250.50"
SITE = "www.foobar.com"
LBS = ("webstack-cluster-lb1", "webstack-cluster-lb2")
WEBS = ("webstack-cluster-web1", "webstack-cluster-web2")
DBS = ("webstack-cluster-db1", "webstack-cluster-db2")
# On a web node itself: its own Apache (the node's firewall lets only the load balancers in).
LOCAL = f"curl -ksS --max-time 10 -H 'Host: {SITE}' https://127.0.0.1"
# On the client: the site through the floating address, with the site's name as SNI.
THROUGH_VIP = f"curl -ksS --max-time 10 --resolve {SITE}:443:{VIP} https://{SITE}"


def host(name):
    return scenario_host(name)


def vip_holders():
    """The load balancers whose interfaces hold the floating address now."""
    return [name for name in LBS if f" {VIP}/" in host(name).check_output("ip -4 -o addr show")]


def haproxy_servers(lb):
    """{(backend, server): status} from HAProxy's admin socket on lb (show stat)."""
    out = host(lb).check_output("echo 'show stat' | socat stdio /run/haproxy/admin.sock")
    lines = out.splitlines()
    fields = lines[0].lstrip("# ").split(",")
    servers = {}
    for line in lines[1:]:
        row = dict(zip(fields, line.split(",")))
        if row.get("svname") and row["svname"] not in ("FRONTEND", "BACKEND"):
            servers[(row["pxname"], row["svname"])] = row["status"]
    return servers


def wait_servers_up(timeout=60):
    """Until every server of every backend is UP on both load balancers (bounded)."""
    deadline = time.time() + timeout
    while True:
        states = {lb: haproxy_servers(lb) for lb in LBS}
        if all(status == "UP" for servers in states.values() for status in servers.values()):
            return states
        if time.time() > deadline:
            raise AssertionError(f"not every server is UP after {timeout} s: {states}")
        time.sleep(1)


def sql(name, query):
    return host(name).check_output(f"mariadb -N -B foobar -e {query!r}")


def _wsrep_status(name):
    """The node's wsrep status variables (name -> value), or None while its server does not answer."""
    result = host(name).run("mariadb -N -B -e \"SHOW GLOBAL STATUS LIKE 'wsrep_%'\"")
    if result.rc != 0:
        return None
    return dict(line.split("\t", 1) for line in result.stdout.splitlines() if "\t" in line)


def wsrep(name):
    """The node's wsrep status variables, name -> value."""
    status = _wsrep_status(name)
    assert status is not None, f"{name}: MariaDB does not answer"
    return status


def wait_synced(name, size, timeout=90):
    deadline = time.time() + timeout
    last = {}
    while time.time() < deadline:
        last = _wsrep_status(name) or last
        if (last.get("wsrep_local_state_comment") == "Synced" and last.get("wsrep_cluster_status") == "Primary"
                and last.get("wsrep_cluster_size") == str(size)):
            return last
        time.sleep(1)
    raise AssertionError(f"{name} is not Synced in a Primary component of {size} after {timeout} s: {last}")


def start_load(tag, duration, write=False, rate=20):
    """Start the bounded load loop on the client as a transient unit; returns the tag."""
    client = host("webstack-cluster-client")
    client.run(f"rm -f /tmp/load-{tag}.json /tmp/stop-{tag}")
    client.check_output(
        f"systemd-run --unit=webstack-load-{tag} --collect /usr/local/bin/webstack-load --address {VIP}"
        f" --host {SITE} --rate {rate} --duration {duration} --tag {tag} --stop-file /tmp/stop-{tag}"
        f" --out /tmp/load-{tag}.json" + (" --write" if write else "")
    )
    deadline = time.time() + 10
    while client.run(f"systemctl is-active --quiet webstack-load-{tag}").rc != 0 and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # a second of traffic before the fault
    return tag


def stop_load(tag, timeout=120):
    """Ask the loop to stop, wait for its result (bounded) and return it."""
    client = host("webstack-cluster-client")
    client.run(f"touch /tmp/stop-{tag}")
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = client.run(f"cat /tmp/load-{tag}.json")
        if result.rc == 0 and result.stdout.strip():
            return json.loads(result.stdout)
        time.sleep(0.5)
    raise AssertionError(f"no result from load loop {tag}: {client.run(f'journalctl -u webstack-load-{tag} -n 20').stdout}")


def failures_after(result, moment):
    """The failed requests sent after `moment` (epoch seconds; the containers share the host's clock)."""
    return [f for f in result["failures"] if result["started"] + f["t"] > moment]


def lb_events(result, margin=5):
    """What HAProxy logged on each load balancer around the failed requests of a load result: server
    state changes and answers no server gave (<NOSRV>), so that a failure says why it happened."""
    if not result["failures"]:
        return {}
    since = int(result["started"] + result["failures"][0]["t"]) - margin
    until = int(result["started"] + result["failures"][-1]["t"]) + margin
    events = {}
    for lb in LBS:
        out = host(lb).run(f"journalctl -u haproxy -o short-precise --no-pager --since @{since} --until @{until}").stdout
        lines = [line for line in out.splitlines()
                 if "[WARNING]" not in line and ("Server " in line or "<NOSRV>" in line or HTTP_5XX.search(line))]
        events[lb] = lines[:40]
    return events


def summary(result):
    brief = {k: result[k] for k in ("requests", "failed", "failure_window", "versions", "seconds")}
    brief["first_seen"] = result["version_first_seen"]
    brief["failures"] = result["failures"][:10]
    if result["failures"]:
        brief["haproxy"] = lb_events(result)
    return brief
