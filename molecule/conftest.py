"""Helpers shared by every scenario's testinfra tests."""

import functools
import os
import pathlib
import re
import shutil
import subprocess

import pytest
import testinfra


# The bundled sample app: tests and benchmarks deploy copies of it as releases of their own.
BUNDLED_APP = pathlib.Path(__file__).resolve().parent.parent / "roles" / "python_app" / "files" / "foobar_app"


def app_copy(parent, version, broken=False, bad_migration=False):
    """A copy of the bundled app in parent/app-<version> that says it is <version>; broken: its
    /healthz always answers 503; bad_migration: a migration that fails. Returns its path."""
    dest = pathlib.Path(parent) / f"app-{version}"
    shutil.copytree(BUNDLED_APP, dest)
    init = dest / "foobar_app" / "__init__.py"
    init.write_text(init.read_text().replace('"1.0.0"', f'"{version}"'))
    if broken:
        app = dest / "foobar_app" / "app.py"
        app.write_text(app.read_text().replace("healthy = db.ping(self.config)", "healthy = False"))
    if bad_migration:
        (dest / "foobar_app" / "migrations" / "0099_broken.sql").write_text("ALTER TABLE no_such_table ADD COLUMN x INT;\n")
    return dest


def scenario_host(name):
    """The testinfra host of one instance of this scenario, by its inventory name."""
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def scenario_hosts():
    """Every instance of this scenario, sorted by inventory name: for tests that run a playbook once
    over all of them (one ansible-playbook for both releases instead of one per host) and then check
    each host."""
    hosts = testinfra.get_hosts(["ansible://all"], ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
    return sorted(hosts, key=lambda h: h.backend.get_hostname())


@pytest.fixture(scope="module")
def hosts():
    """Every instance of this scenario (scenario_hosts), for tests that run a playbook over all of them."""
    return scenario_hosts()


def name_of(host):
    """A testinfra host's inventory name."""
    return host.backend.get_hostname()


def assert_both_releases(hosts):
    """Tests that ran a playbook over these hosts are worth their name only if it ran on both releases."""
    releases = {host.check_output(". /etc/os-release && echo $VERSION_CODENAME") for host in hosts}
    assert releases == {"bookworm", "trixie"}, releases


# One host's result line of a task ("changed: [web]", "fatal: [web -> localhost]: FAILED! =>"), and
# the banners that start the next task, handler, play or the recap.
RESULT = re.compile(r"^(ok|changed|fatal|failed|skipping|rescued|ignored): \[([^\]]+)\]")
TASK_BANNERS = ("TASK [", "RUNNING HANDLER [")
BANNERS = (*TASK_BANNERS, "PLAY [", "PLAY RECAP")


def _result(line):
    """(status, host) of a task result line, or None."""
    match = RESULT.match(line)
    return (match.group(1), match.group(2).split(" -> ")[0]) if match else None


def host_output(output, name):
    """What a playbook printed for one host: its task result lines (ok/changed/fatal/skipping) and the
    message of a failure, from the first line naming [name] to the next line that names another host."""
    lines, keep = [], False
    for line in output.splitlines():
        result = _result(line)
        if result:
            keep = result[1] == name
        elif line.startswith(BANNERS):
            keep = False
        if keep and line.strip():
            lines.append(line)
    return "\n".join(lines)


def task_results(output, task):
    """{host: [status, ...]} of every task whose header contains `task` (ok, changed, skipping, fatal...)."""
    results, inside = {}, False
    for line in output.splitlines():
        if line.startswith(BANNERS):
            inside = line.startswith(TASK_BANNERS) and task in line
            continue
        result = _result(line)
        if inside and result:
            results.setdefault(result[1], []).append(result[0])
    return results


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
    # One stream, in the order ansible-playbook wrote it: ansible-core prints failures on stderr, and a
    # failure is read next to the task banner it belongs to (task_results, host_output). stderr is
    # left empty, so `proc.stdout + proc.stderr` is the whole output.
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, timeout=900)
    proc.stderr = ""
    return proc


def changed(proc, host):
    """How many changes the run's recap counts for this host."""
    return recap(proc.stdout)[name_of(host)]["changed"]


def recap(output):
    """Parse PLAY RECAP lines into {host: {ok: n, changed: n, failed: n, ...}}."""
    result = {}
    for line in output.splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if match and "ok=" in match.group(2):
            result[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return result


@functools.lru_cache(maxsize=None)
def _check_mode_run(playbook, args):
    """One --check --diff run of the playbook over every host of the scenario, shared by the tests."""
    return run_playbook(playbook, "--check", "--diff", *args)


def assert_check_mode_clean(host, playbook="converge.yml", args=()):
    """A converged host: the playbook in --check --diff mode fails nothing and would change nothing.
    args narrow the run (--tags of the role under test when other scenarios check the rest)."""
    name = host.backend.get_hostname()
    proc = _check_mode_run(playbook, tuple(args))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"check mode failed:\n{output[-4000:]}"
    counts = recap(proc.stdout).get(name)
    assert counts is not None, f"no recap for {name}:\n{output[-4000:]}"
    assert counts["changed"] == 0 and counts["failed"] == 0, f"check mode would change:\n{output[-6000:]}"
