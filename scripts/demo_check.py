#!/usr/bin/env python3
"""Prove the demo works end to end and print where to look. Exits non-zero on any failure.

Talks only to the demo's ports published on 127.0.0.1 and to the demo containers via docker exec.
"""

import subprocess
import sys


def sh(container, command):
    return subprocess.run(
        ["docker", "exec", container, "bash", "-c", command], capture_output=True, text=True, check=False, timeout=60
    )


def main():
    failures = []
    res = sh("webstack-demo-web", "systemctl is-system-running --wait >/dev/null 2>&1; hostname -f; systemctl is-active ssh")
    if res.returncode != 0 or "web1" not in res.stdout:
        failures.append(f"web host not healthy: {res.stdout} {res.stderr}")
    else:
        print(f"web host: {res.stdout.split()[0]}, sshd {res.stdout.split()[-1]}")
    if failures:
        print("\n".join(f"FAILED: {f}" for f in failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
