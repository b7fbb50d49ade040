"""The suite's own tools: the report of where its minutes go, and the helpers that read one host's
results out of a playbook run over several hosts (a helper that returned every host's lines would let
one host's failure pass for the other's)."""

import importlib.util
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


helpers = _load("molecule_conftest", ROOT / "molecule" / "conftest.py")

RUN = """\
TASK [foobar.webstack.python_app : Release | Install the pinned requirements into the venv] ***
skipping: [web-a]
changed: [web-b]

TASK [foobar.webstack.python_app : Switch | Fail with what happened] ***
fatal: [web-a]: FAILED! =>
    changed: false
    msg: Release 2 ROLLED BACK on web-a
ok: [web-b]
fatal: [web-c -> localhost]: FAILED! =>
    msg: for web-c

PLAY RECAP *********************************************************************
web-a                      : ok=3    changed=0    unreachable=0    failed=1    skipped=1
web-b                      : ok=4    changed=1    unreachable=0    failed=0    skipped=0
"""


def test_host_output_keeps_only_that_hosts_lines():
    a = helpers.host_output(RUN, "web-a")
    assert "ROLLED BACK on web-a" in a and "skipping: [web-a]" in a
    assert "web-b" not in a and "web-c" not in a
    b = helpers.host_output(RUN, "web-b")
    assert "ROLLED BACK" not in b and b.splitlines() == ["changed: [web-b]", "ok: [web-b]"]
    assert helpers.host_output(RUN, "web-c") == "fatal: [web-c -> localhost]: FAILED! =>\n    msg: for web-c"


def test_task_results_per_host():
    pip = helpers.task_results(RUN, "Install the pinned requirements")
    assert pip == {"web-a": ["skipping"], "web-b": ["changed"]}
    assert helpers.task_results(RUN, "Fail with what happened") == {"web-a": ["fatal"], "web-b": ["ok"], "web-c": ["fatal"]}
    assert helpers.task_results(RUN, "no such task") == {}


def test_recap_counts_per_host():
    counts = helpers.recap(RUN)
    assert counts["web-a"]["failed"] == 1 and counts["web-b"]["changed"] == 1


def test_report_sorts_steps_and_tests(tmp_path):
    log = tmp_path / "demo_scenario.log"
    log.write_text(
        "[    0.0] INFO     [demo_scenario > create] Executing\n"
        "[    9.0] INFO     [demo_scenario > create] Executed: Successful\n"
        "[    9.0] INFO     [demo_scenario > converge] Executing\n"
        "[    9.5] TASK [foobar.webstack.apache : Packages | Install Apache] ***\n"
        "[   29.5] TASK [foobar.webstack.apache : Configure] ***\n"
        "[   40.0] INFO     [demo_scenario > converge] Executed: Successful\n"
        "[   40.0] INFO     [demo_scenario > verify] Executing\n"
        "[   90.0] 41.34s call     molecule/demo_scenario/tests/test_x.py::test_slow[ansible://h1]\n"
        "[   90.0] 2.50s setup    molecule/demo_scenario/tests/test_x.py::test_quick\n"
        "[   95.0] INFO     [demo_scenario > verify] Executed: Successful\n",
        encoding="utf-8",
    )
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "test_report.py"), str(log)],
                         capture_output=True, text=True, check=True).stdout
    steps = out.split("=== every step, slowest first (s)\n", 1)[1].split("\n\n", 1)[0].split("\n")
    assert [line.split()[-1] for line in steps] == ["verify", "converge", "create"], out
    assert steps[0].split()[0] == "55"
    tests = out.split("=== the slowest tests (s)\n", 1)[1].strip().splitlines()
    assert tests[0].split() == ["41", "demo_scenario:", "test_x.py::test_slow[ansible://h1]", "(call)"], out
    assert "apt 20 s" in out  # the Install task's 20 s
