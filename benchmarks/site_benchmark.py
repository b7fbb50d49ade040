#!/usr/bin/env python3
"""Print the figures of the whole site: converge speed and served requests per second.

    benchmarks/run.sh                  both parts
    benchmarks/run.sh converge         cold converge vs bare apt-get install, idempotent re-run
    benchmarks/run.sh throughput       wrk against the demo on loopback (brings the demo up if needed)
    benchmarks/run.sh fronts           Apache and nginx side by side: same container, same app, same rows

converge: two fresh containers from the same image (foobar-webstack/debian:<release>).
  1. site.yml converges the web host on one of them, cold (no apt cache, nothing installed);
  2. site.yml runs again on it: the idempotent re-run;
  3. on the other, a bare `apt-get update && apt-get install` of exactly the packages the converge
     marked as manually installed (`apt-mark showmanual`, after minus before).
  Both download from the same Debian mirror. Figures: seconds, the ratio converge / bare install
  (target at most 1.5) and the re-run (target at most 15 s).
throughput: wrk (Debian's package) from this machine to the demo's HTTPS port on 127.0.0.1, with
  www.foobar.com mapped to 127.0.0.1 in a private mount namespace (so SNI and Host are the site's
  name and this machine's /etc/hosts is left alone): a static file and the dynamic page (rows read
  from MariaDB). Each run is bounded in time; traffic goes only to 127.0.0.1.
fronts: one fresh container (foobar-webstack/debian:<release>) with its HTTPS port published on
  127.0.0.1 only; site.yml serves it with Apache, wrk measures the static file and the dynamic page,
  then site.yml moves it to nginx (webstack_web_server: nginx, one run) and wrk measures the same
  two again: the same image, app, rows and client, only the front differs. Printed side by side.

Logs and a copy of the figures go to benchmarks/results/ (kept out of git and of the collection).
"""

import argparse
import datetime
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SITE = "www.foobar.com"
BARE, CONVERGED, FRONTS = "webstack-bench-bare", "webstack-bench-site", "webstack-bench-fronts"
# What wrk asks for: a file the front serves from the release, and the page the app builds from rows.
WRK_PATHS = (("static file", "/static/style.css"), ("dynamic page", "/"))
SYSTEMD_FLAGS = [
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
    "--security-opt", "seccomp=unconfined",
    "--tmpfs", "/run", "--tmpfs", "/run/lock",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--cgroupns", "host",
]
# Only the public half: nobody logs in, but linux_base will not turn off password login without it.
BENCH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILnOCM2rWtsFpAHKs2VrcZWmZWFGm56b8TNp6YPJezrH site-scenario"

lines_out = []


def say(line=""):
    print(line, flush=True)
    lines_out.append(line)


def run(cmd, check=True, timeout=1800, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def timed(cmd, log, **kwargs):
    start = time.monotonic()
    proc = run(cmd, check=False, **kwargs)
    elapsed = time.monotonic() - start
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}); log: {log}\n{proc.stdout[-3000:]}")
    return elapsed, proc.stdout


def recap(output):
    totals = {}
    for match in re.finditer(r"^\S+\s+:\s+(ok=.*)$", output, re.M):
        for key, value in re.findall(r"(\w+)=(\d+)", match.group(1)):
            totals[key] = totals.get(key, 0) + int(value)
    return totals


def container(name, image, publish=()):
    run(["docker", "rm", "-f", name], check=False)
    ports = [arg for spec in publish for arg in ("-p", spec)]
    run(["docker", "run", "-d", "--name", name, "--hostname", name, *SYSTEMD_FLAGS, *ports, image, "/lib/systemd/systemd"])
    # systemd is up when is-system-running answers anything but "starting"/"initializing".
    for _ in range(60):
        state = run(["docker", "exec", name, "systemctl", "is-system-running"], check=False).stdout.strip()
        if state not in ("", "initializing", "starting"):
            return
        time.sleep(1)
    sys.exit(f"systemd in {name} did not finish booting")


def manual_packages(name):
    return set(run(["docker", "exec", name, "apt-mark", "showmanual"]).stdout.split())


def write_inventory(directory, host=CONVERGED):
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "community.docker.docker",
                "webstack_domain": SITE,
                "webstack_app_name": "foobar",
                "linux_base_domain": "foobar.com",
                "linux_base_admin_users": [{"name": "bench", "ssh_keys": [BENCH_KEY]}],
            },
            "children": {"web": {"hosts": {host: {"linux_base_hostname": "web1"}}}},
        }
    }
    path = directory / "hosts.yml"
    path.write_text(json.dumps(inventory, indent=2))  # JSON is YAML
    return path


def ansible_env():
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
                ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")


def bench_converge(args, stamp):
    image = f"foobar-webstack/debian:{args.release}"
    env = ansible_env()
    say(f"== converge: site.yml (web host: linux_base, mysql, apache, python_app) on {image}")
    try:
        container(CONVERGED, image)
        container(BARE, image)
        before = manual_packages(CONVERGED)
        with tempfile.TemporaryDirectory() as tmp:
            inventory = write_inventory(pathlib.Path(tmp))
            playbook = ["ansible-playbook", "-i", str(inventory), str(ROOT / "site.yml")]
            cold, out = timed(playbook, RESULTS / f"{stamp}-converge-cold.log", env=env, cwd=ROOT)
            cold_recap = recap(out)
            rerun, out = timed(playbook, RESULTS / f"{stamp}-converge-rerun.log", env=env, cwd=ROOT)
            rerun_recap = recap(out)
        packages = sorted(manual_packages(CONVERGED) - before)
        bare_cmd = (
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
            + " ".join(packages)
        )
        bare, _ = timed(["docker", "exec", BARE, "bash", "-c", bare_cmd], RESULTS / f"{stamp}-bare-install.log")
    finally:
        if not args.keep:
            run(["docker", "rm", "-f", CONVERGED, BARE], check=False)
    ratio = cold / bare
    say(f"packages installed by the converge ({len(packages)}): {' '.join(packages)}")
    say(f"bare apt-get install of the same packages   {bare:7.1f} s")
    say(f"site.yml cold converge                      {cold:7.1f} s   {cold_recap.get('ok', 0)} tasks ok, "
        f"{cold_recap.get('changed', 0)} changed   ratio {ratio:.2f} x bare (target <= 1.5: "
        f"{'met' if ratio <= 1.5 else 'MISSED'})")
    say(f"site.yml idempotent re-run                  {rerun:7.1f} s   {rerun_recap.get('ok', 0)} tasks ok, "
        f"{rerun_recap.get('changed', 0)} changed   (target <= 15 s: {'met' if rerun <= 15 else 'MISSED'})")
    if rerun_recap.get("changed", 0) or rerun_recap.get("failed", 0):
        say("WARNING: the re-run was not idempotent (see the rerun log)")


def parse_wrk(output):
    def seconds(text):
        value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
        return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = seconds(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    return rps, p99, total, errors


def ensure_wrk():
    if not shutil.which("wrk"):
        say("installing wrk (Debian package)")
        run(["apt-get", "install", "-y", "-qq", "wrk"], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def wrk_figures(args, stamp, port, tag):
    """wrk against https://SITE:port on 127.0.0.1 for WRK_PATHS: {label: (rps, p99, total, errors)}."""
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        hosts = pathlib.Path(tmp) / "hosts"
        hosts.write_text(pathlib.Path("/etc/hosts").read_text() + f"\n127.0.0.1 {SITE}\n")
        for label, path in WRK_PATHS:
            url = f"https://{SITE}:{port}{path}"
            wrk = (f"mount --bind {hosts} /etc/hosts && exec wrk -t{args.threads} -c{args.connections} "
                   f"-d{args.duration}s --timeout 5s --latency {url}")
            run(["unshare", "-m", "sh", "-c", wrk.replace(f"-d{args.duration}s", "-d2s")])  # warm-up
            out = run(["unshare", "-m", "sh", "-c", wrk], timeout=args.duration + 60).stdout
            (RESULTS / f"{stamp}-wrk-{tag}-{'static' if path != '/' else 'dynamic'}.log").write_text(out)
            figures[label] = parse_wrk(out)
    return figures


def bench_fronts(args, stamp):
    image = f"foobar-webstack/debian:{args.release}"
    port = args.fronts_port
    ensure_wrk()
    say(f"== fronts: site.yml with Apache, then with nginx, on one {image} container (same app, same rows); "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s to https://{SITE}:{port} on 127.0.0.1")
    figures = {}
    try:
        container(FRONTS, image, publish=[f"127.0.0.1:{port}:443"])
        with tempfile.TemporaryDirectory() as tmp:
            inventory = write_inventory(pathlib.Path(tmp), FRONTS)
            for front in ("apache", "nginx"):
                playbook = ["ansible-playbook", "-i", str(inventory), str(ROOT / "site.yml"), "-e", f"webstack_web_server={front}"]
                elapsed, _ = timed(playbook, RESULTS / f"{stamp}-fronts-{front}.log", env=ansible_env(), cwd=ROOT)
                say(f"site.yml with webstack_web_server={front}: {elapsed:.1f} s")
                figures[front] = wrk_figures(args, stamp, port, front)
    finally:
        if not args.keep:
            run(["docker", "rm", "-f", FRONTS], check=False)
    say(f"{'':32}{'Apache 2.4 (event MPM)':>38}{'nginx':>38}")
    for label, path in WRK_PATHS:
        cells = []
        for front in ("apache", "nginx"):
            rps, p99, total, errors = figures[front][label]
            cells.append(f"{rps:9.1f} req/s  p99 {p99 * 1000:6.1f} ms  {errors} err")
        say(f"{label + ' ' + path:32}" + "".join(f"{cell:>38}" for cell in cells))
    (RESULTS / f"{stamp}-fronts.json").write_text(json.dumps(figures, indent=2))


def bench_throughput(args, stamp):
    port = int(os.environ.get("WEBSTACK_DEMO_HTTPS_PORT", "8443"))
    ensure_wrk()
    running = run(["docker", "inspect", "-f", "{{.State.Running}}", "webstack-demo-web"], check=False).stdout.strip()
    if running != "true":
        say("the demo is not up: running scripts/demo.sh")
        run([str(ROOT / "scripts" / "demo.sh")], timeout=3600)
    say(f"== throughput: wrk -t{args.threads} -c{args.connections} -d{args.duration}s against the demo "
        f"(https://{SITE}:{port} on 127.0.0.1; Apache event MPM, gunicorn gthread behind it)")
    for (label, path), (rps, p99, total, errors) in zip(WRK_PATHS, wrk_figures(args, stamp, port, "demo").values()):
        say(f"{label:13} {path:18} {rps:9.1f} req/s   p99 {p99 * 1000:7.1f} ms   {total} requests, {errors} errors")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", nargs="?", choices=["all", "converge", "throughput", "fronts"], default="all")
    parser.add_argument("--fronts-port", type=int, default=9543, help="loopback port of the fronts container's HTTPS")
    parser.add_argument("--release", default="bookworm", choices=["bookworm", "trixie"])
    parser.add_argument("--keep", action="store_true", help="keep the benchmark containers")
    parser.add_argument("--duration", type=int, default=15, help="seconds of each wrk run (at most 120)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    args.duration = max(1, min(args.duration, 120))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    say(f"foobar.webstack site benchmark, {stamp}, {os.cpu_count()} cores")
    if args.part in ("all", "converge"):
        bench_converge(args, stamp)
    if args.part in ("all", "throughput"):
        bench_throughput(args, stamp)
    if args.part in ("all", "fronts"):
        bench_fronts(args, stamp)
    (RESULTS / f"{stamp}-figures.txt").write_text("\n".join(lines_out) + "\n")


if __name__ == "__main__":
    main()
