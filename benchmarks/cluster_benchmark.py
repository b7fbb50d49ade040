#!/usr/bin/env python3
"""Print the cluster's figures: cold converge, re-run, and failed requests under faults.

    benchmarks/run.sh cluster             everything below, on the cluster demo's containers
    benchmarks/run.sh cluster --warm      keep existing demo containers (no cold converge)

1. Converge: the cluster demo (scripts/demo.sh cluster's eight containers) is created afresh and
   site.yml converges it (cold: nothing installed); then site.yml runs again (the re-run).
2. Faults, each under benchmarks/cluster_load.py run inside the demo's client container against the
   floating address (bounded in time; traffic only inside the demo's network):
   web node's Apache killed, active HAProxy stopped, database writer killed (with writes; every
   committed row is then looked for on both database nodes), rolling deploy of a new release,
   broken release (the rollout stops at the first node).
   Figures: requests, failed requests, the window they fell in, how long the address took to move,
   how long writes were refused.

Logs and a copy of the figures go to benchmarks/results/ (kept out of git and of the collection).
"""

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
INVENTORY = ROOT / "inventory" / "demo-cluster" / "hosts.yml"
VIP = "172.29.253.200"
SITE = "www.foobar.com"
LBS = ("webstack-demo-lb1", "webstack-demo-lb2")
WEBS = ("webstack-demo-web1", "webstack-demo-web2")
DBS = ("webstack-demo-db1", "webstack-demo-db2")
CLIENT = "webstack-demo-client"

# The same release copies the Molecule tests deploy (molecule/conftest.py).
sys.path.insert(0, str(ROOT / "molecule"))
from conftest import app_copy  # noqa: E402  pylint: disable=wrong-import-position

lines_out = []


def say(text):
    print(text, flush=True)
    lines_out.append(text)


def sh(container, command, check=True):
    proc = subprocess.run(["docker", "exec", container, "sh", "-c", command], capture_output=True, text=True,
                          timeout=300, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{container}: {command}: {proc.stderr or proc.stdout}")
    return proc.stdout.strip()


def playbook(log, *args):
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run(["ansible-playbook", "-i", str(INVENTORY), *args], stdout=out, stderr=subprocess.STDOUT,
                              cwd=ROOT, check=False, timeout=3600)
    return proc.returncode, time.monotonic() - start


def changed_total(log):
    total = 0
    for line in pathlib.Path(log).read_text(encoding="utf-8").splitlines():
        if " : ok=" in line:
            total += int(line.split("changed=")[1].split()[0])
    return total


def vip_holder():
    for lb in LBS:
        if f" {VIP}/" in sh(lb, "ip -4 -o addr show", check=False):
            return lb
    return None


def wait_up(timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        states = []
        for lb in LBS:
            out = sh(lb, "echo 'show stat' | socat stdio /run/haproxy/admin.sock", check=False)
            rows = [line.split(",") for line in out.splitlines()[1:] if line]
            states += [row[17] for row in rows if len(row) > 17 and row[1] not in ("FRONTEND", "BACKEND")]
        if states and all(state == "UP" for state in states):
            return
        time.sleep(1)
    raise RuntimeError("not every HAProxy server is UP")


def start_load(tag, duration, write=False):
    sh(CLIENT, f"rm -f /tmp/load-{tag}.json /tmp/stop-{tag}")
    sh(CLIENT, f"systemd-run --unit=webstack-load-{tag} --collect python3 /usr/local/bin/webstack-load --address {VIP}"
               f" --host {SITE} --rate 20 --duration {duration} --tag {tag} --stop-file /tmp/stop-{tag}"
               f" --out /tmp/load-{tag}.json" + (" --write" if write else ""))
    time.sleep(2)


def stop_load(tag):
    sh(CLIENT, f"touch /tmp/stop-{tag}")
    for _ in range(240):
        out = sh(CLIENT, f"cat /tmp/load-{tag}.json 2>/dev/null", check=False)
        if out:
            return json.loads(out)
        time.sleep(0.5)
    raise RuntimeError(f"load loop {tag} gave no result")


def report(name, result, extra=""):
    say(f"  {name:<34} {result['requests']:>5} requests, {result['failed']:>3} failed"
        f" (window {result['failure_window']:.1f} s){extra}")


def faults(stamp, figures):
    subprocess.run(["docker", "cp", str(ROOT / "benchmarks" / "cluster_load.py"), f"{CLIENT}:/usr/local/bin/webstack-load"],
                   check=True, timeout=60)
    wait_up()
    say("faults (20 requests/s from the client container to the floating address):")

    start_load("apache", 60)
    killed = time.time()
    sh(WEBS[0], "systemctl kill --signal=KILL apache2")
    time.sleep(8)
    result = stop_load("apache")
    sh(WEBS[0], "systemctl restart apache2")
    late = [f for f in result["failures"] if result["started"] + f["t"] > killed + 2]
    report("web1's Apache killed", result, f", {len(late)} after 2 s")
    figures["apache_killed"] = {"failed": result["failed"], "failed_after_2s": len(late), "requests": result["requests"]}
    wait_up()

    active = vip_holder()
    start_load("haproxy", 60)
    stopped = time.time()
    sh(active, "systemctl stop haproxy")
    while vip_holder() in (None, active) and time.time() < stopped + 15:
        time.sleep(0.1)
    moved = time.time() - stopped
    time.sleep(6)
    result = stop_load("haproxy")
    sh(active, "systemctl start haproxy")
    report(f"active HAProxy ({active[-3:]}) stopped", result, f", address moved in {moved:.1f} s")
    figures["haproxy_stopped"] = {"failed": result["failed"], "window_s": result["failure_window"], "moved_s": round(moved, 1)}
    wait_up()

    start_load("writer", 90, write=True)
    killed = time.time()
    sh(DBS[0], "systemctl kill --signal=KILL mariadb")
    time.sleep(15)
    result = stop_load("writer")
    last = max((result["started"] + f["t"] for f in result["failures"]), default=killed)
    ids = ",".join(str(i) for i in result["committed"]) or "0"
    for _ in range(120):
        if sh(DBS[0], "mariadb -N -B -e \"SHOW STATUS LIKE 'wsrep_local_state_comment'\"", check=False).endswith("Synced"):
            break
        time.sleep(1)
    found = [int(sh(db, f"mariadb -N -B foobar -e 'SELECT COUNT(*) FROM messages WHERE id IN ({ids})'")) for db in DBS]
    report("database writer (db1) killed", result,
           f", writes back after {max(0.0, last - killed):.1f} s, {len(result['committed'])} committed rows, found {found}")
    figures["writer_killed"] = {"failed": result["failed"], "writes_back_s": round(max(0.0, last - killed), 1),
                                "committed": len(result["committed"]), "found": found}
    wait_up()

    with tempfile.TemporaryDirectory() as tmp:
        start_load("rolling", 500)
        rc, took = playbook(RESULTS / f"{stamp}-cluster-rolling.log", "site.yml", "--limit", "web",
                            "-e", f"python_app_version=1.1.{stamp[-4:]}", "-e", "python_app_source=dir",
                            "-e", f"python_app_source_path={app_copy(tmp, '1.1.' + stamp[-4:])}")
        result = stop_load("rolling")
        report("rolling deploy", result, f", {took:.0f} s, rc {rc}, versions {sorted(result['versions'])}")
        figures["rolling_deploy"] = {"failed": result["failed"], "seconds": round(took), "rc": rc}
        wait_up()
        start_load("broken", 500)
        rc, took = playbook(RESULTS / f"{stamp}-cluster-broken.log", "site.yml", "--limit", "web",
                            "-e", f"python_app_version=1.2.{stamp[-4:]}-broken", "-e", "python_app_source=dir",
                            "-e", f"python_app_source_path={app_copy(tmp, '1.2.' + stamp[-4:] + '-broken', True)}",
                            "-e", "python_app_health_timeout=6")
        result = stop_load("broken")
        report("broken release (stops at web1)", result, f", {took:.0f} s, rc {rc} (expected non-zero)")
        figures["broken_release"] = {"failed": result["failed"], "seconds": round(took), "rc": rc}
    wait_up()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", action="store_true", help="keep the demo's containers: no cold converge")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    figures = {}
    say(f"foobar.webstack cluster benchmark, {stamp}")
    if not args.warm:
        subprocess.run(["ansible-playbook", str(ROOT / "playbooks" / "demo_down.yml")], cwd=ROOT, check=True,
                       capture_output=True, timeout=600)
        rc, took = playbook(RESULTS / f"{stamp}-cluster-up.log", "playbooks/demo_up.yml", "-e", "webstack_demo_shape=cluster")
        if rc:
            raise SystemExit("demo_up.yml failed")
        rc, cold = playbook(RESULTS / f"{stamp}-cluster-cold.log", "site.yml")
        if rc:
            raise SystemExit(f"cold converge failed: {RESULTS / (stamp + '-cluster-cold.log')}")
        say(f"cold converge of 7 hosts (containers made in {took:.0f} s): {cold:.0f} s")
        figures["cold_converge_s"] = round(cold)
    rc, rerun = playbook(RESULTS / f"{stamp}-cluster-rerun.log", "site.yml")
    changed = changed_total(RESULTS / f"{stamp}-cluster-rerun.log")
    say(f"re-run: {rerun:.0f} s, {changed} changed, rc {rc}")
    figures["rerun_s"] = round(rerun)
    figures["rerun_changed"] = changed
    faults(stamp, figures)
    (RESULTS / f"{stamp}-cluster.json").write_text(json.dumps(figures, indent=2))
    (RESULTS / f"{stamp}-cluster.txt").write_text("\n".join(lines_out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
