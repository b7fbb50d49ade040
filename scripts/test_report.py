#!/usr/bin/env python3
"""Where the test suite's minutes go, from the logs scripts/test.sh keeps.

  test_report.py --stamp            copy stdin to stdout, each line prefixed with the seconds since
                                    start ("[  12.3] "): how scripts/test.sh writes a scenario's log
  test_report.py LOG [LOG ...]      the figures of those logs: each scenario's time, its Molecule
                                    actions (create, prepare, converge, idempotence, verify, destroy
                                    ...) and, across the suite, the time in container create and
                                    destroy, apt, pip and verify; then every step and the slowest
                                    tests, slowest first
"""

import pathlib
import re
import sys
import time

STAMP = re.compile(r"^\[\s*(\d+(?:\.\d+)?)\] ")
ACTION = re.compile(r"(?:INFO|WARNING|ERROR)\s+\[(?P<scenario>[^ \]]+) > (?P<action>[a-z_]+)\] (?:\x1b\[[0-9;]*m)?"
                    r"(?P<what>Executing|Executed)")
# Task and handler banners of ansible-playbook; a task lasts until the next banner (or the recap).
BANNER = re.compile(r"^(TASK|RUNNING HANDLER) \[(?P<name>.*)\] \*+$|^PLAY (RECAP|\[)")
# pytest's --durations lines (the scenarios' verifier asks for the slowest): "12.34s call  path::test[id]".
DURATION = re.compile(r"^(?P<seconds>\d+\.\d+)s (?P<phase>call|setup|teardown)\s+(?P<test>\S+)")


def stamp():
    start = time.monotonic()
    for line in sys.stdin:
        sys.stdout.write(f"[{time.monotonic() - start:7.1f}] {line}")
        sys.stdout.flush()


def kind(task):
    """apt or pip, by the names the roles and scenarios give those tasks; None for the rest."""
    if "pinned requirements" in task:
        return "pip"
    name = task.split(" : ", 1)[-1]
    if re.search(r"\bInstall\b", name) and not re.search(r"checker|configuration|requirements", name):
        return "apt"
    return None


def parse(path):
    actions, kinds, tests = {}, {"apt": 0.0, "pip": 0.0}, []
    started, last, banner = {}, 0.0, None
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = STAMP.match(raw)
        if not match:
            continue
        t, line = float(match.group(1)), raw[match.end():]
        last = t
        act = ACTION.search(line)
        if act:
            name = act.group("action")
            if act.group("what") == "Executing":
                started.setdefault(name, t)
            elif name in started:
                actions[name] = actions.get(name, 0.0) + t - started.pop(name)
            continue
        dur = DURATION.match(line)
        if dur:
            test = dur.group("test").split("/tests/", 1)[-1]
            tests.append((float(dur.group("seconds")), f"{test} ({dur.group('phase')})"))
            continue
        ban = BANNER.match(line)
        if ban:
            if banner is not None and banner[1]:
                kinds[banner[1]] += t - banner[0]
            banner = (t, kind(ban.group("name") or ""))
    return {"total": last, "actions": actions, "tests": tests, **kinds}


def report(paths):
    results = {p.stem: parse(p) for p in paths if p.is_file()}
    if not results:
        return
    print("\n=== where the time went (s), slowest scenario first")
    order = ("create", "prepare", "converge", "side_effect", "idempotence", "verify", "destroy")
    print(f"{'scenario':<20}{'total':>7}" + "".join(f"{a[:8]:>9}" for a in order) + f"{'apt':>7}{'pip':>7}")
    for name, r in sorted(results.items(), key=lambda item: -item[1]["total"]):
        cells = "".join(f"{r['actions'].get(a, 0):9.0f}" for a in order)
        print(f"{name:<20}{r['total']:7.0f}{cells}{r['apt']:7.0f}{r['pip']:7.0f}")
    total = {key: sum(r["actions"].get(key, 0) for r in results.values()) for key in order}
    print(
        "across the suite: containers created and destroyed {:.0f} s, apt {:.0f} s, pip {:.0f} s, verify {:.0f} s, "
        "converge and idempotence {:.0f} s, all scenarios {:.0f} s of scenario time".format(
            total["create"] + total["destroy"],
            sum(r["apt"] for r in results.values()),
            sum(r["pip"] for r in results.values()),
            total["verify"],
            total["converge"] + total["idempotence"],
            sum(r["total"] for r in results.values()),
        )
    )


    steps = sorted(((t, f"{name} {action}") for name, r in results.items() for action, t in r["actions"].items()),
                   reverse=True)
    print("\n=== every step, slowest first (s)")
    for t, step in steps:
        if t >= 1:
            print(f"{t:7.0f}  {step}")
    tests = sorted(((t, f"{name}: {test}") for name, r in results.items() for t, test in r["tests"]), reverse=True)
    if tests:
        print("\n=== the slowest tests (s)")
        for t, test in tests[:15]:
            print(f"{t:7.0f}  {test}")


def main(argv):
    if argv[1:] == ["--stamp"]:
        stamp()
        return 0
    report([pathlib.Path(a) for a in argv[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
