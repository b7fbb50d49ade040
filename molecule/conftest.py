"""Helpers shared by every scenario's testinfra tests."""

import functools
import os
import re
import subprocess

import testinfra


def scenario_host(name):
    """The testinfra host of one instance of this scenario, by its inventory name."""
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def host_address(host, family=4):
    """The instance's global address of the given IP family on eth0 (the scenario network)."""
    scope = " scope global" if family == 6 else ""
    return host.check_output(f"ip -{family} -o addr show dev eth0{scope} | awk '{{print $4}}' | cut -d/ -f1 | head -n1")


def journal(host, unit, lines=40):
    """The last lines of a unit's journal, for failure messages."""
    return host.run(f"journalctl -u {unit} --no-pager -n {lines}").stdout


def assert_running(host, unit):
    """Assert a systemd unit is running and enabled; on failure show its journal."""
    service = host.service(unit)
    assert service.is_running, f"{unit} is not running:\n{journal(host, unit)}"
    assert service.is_enabled, f"{unit} is not enabled"


def run_playbook(playbook, *args, limit=None):
    """Run a playbook of this scenario against Molecule's inventory and return the process."""
    scenario_dir = os.environ["MOLECULE_SCENARIO_DIRECTORY"]
    cmd = [
        "ansible-playbook",
        "-i",
        os.environ["MOLECULE_INVENTORY_FILE"],
        os.path.join(scenario_dir, playbook),
        *args,
    ]
    if limit:
        cmd += ["--limit", limit]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)


def recap(output):
    """Parse PLAY RECAP lines into {host: {ok: n, changed: n, failed: n, ...}}."""
    result = {}
    for line in output.splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if match and "ok=" in match.group(2):
            result[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return result


@functools.lru_cache(maxsize=None)
def _check_mode_run(playbook):
    """One --check --diff run of the playbook over every host of the scenario, shared by the tests."""
    return run_playbook(playbook, "--check", "--diff")


def assert_check_mode_clean(host, playbook="converge.yml"):
    """A converged host: the playbook in --check --diff mode fails nothing and would change nothing."""
    name = host.backend.get_hostname()
    proc = _check_mode_run(playbook)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"check mode failed:\n{output[-4000:]}"
    counts = recap(proc.stdout).get(name)
    assert counts is not None, f"no recap for {name}:\n{output[-4000:]}"
    assert counts["changed"] == 0 and counts["failed"] == 0, f"check mode would change:\n{output[-6000:]}"
