#!/usr/bin/env python3
"""A bounded request loop against the site, counting failed requests (Python 3 stdlib only).

Runs inside the client container of the cluster (molecule/cluster, scripts/demo.sh cluster,
benchmarks/cluster.sh): it sends traffic to the address it is given and nowhere else, at a fixed
rate, for at most --duration seconds (and never more than 600), or until --stop-file exists.

Every request opens its own connection (what a new visitor does), sends Host and SNI for the site's
name and counts as failed unless the answer is the expected status within --timeout. With --write
every second request posts a row (POST /api/messages) and the ids the site answered 201 for are
kept: those rows were committed, and a check can look for each of them afterwards.

Prints (and with --out writes) one JSON object: requests, failed, the failures with their times,
the window from the first to the last failure, the app versions seen (and when each was first
seen), the committed rows. A failed answer's reason carries the start of its body, which tells
whether HAProxy, Apache or the app gave it.
"""

import argparse
import http.client
import json
import pathlib
import re
import socket
import ssl
import sys
import time

VERSION_RE = re.compile(r"app ([A-Za-z0-9._+-]+)</p>")
TAG_RE = re.compile(r"<!?[^>]*>")
MAX_DURATION = 600


class SiteConnection(http.client.HTTPSConnection):
    """HTTPS to an address, with the site's name as SNI (http.client would send the address)."""

    def __init__(self, address, port, server_name, timeout, context):
        super().__init__(address, port, timeout=timeout, context=context)
        self._server_name = server_name
        self._ctx = context

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._server_name)


def one_request(args, context, method, path, body=None):
    conn = SiteConnection(args.address, args.port, args.host, args.timeout, context)
    try:
        headers = {"Host": args.host, "Connection": "close"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def run(args):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test bed's certificates are self-signed
    duration = min(args.duration, MAX_DURATION)
    stop_file = pathlib.Path(args.stop_file) if args.stop_file else None
    result_started = time.time()
    start = time.monotonic()
    interval = 1.0 / args.rate
    result = {"requests": 0, "failed": 0, "failures": [], "versions": {}, "committed": [], "reads": 0, "writes": 0,
              "version_first_seen": {}}
    n = 0
    while True:
        now = time.monotonic() - start
        if now >= duration or (stop_file is not None and stop_file.exists()):
            break
        write = args.write and n % 2 == 1
        n += 1
        try:
            if write:
                name = f"{args.tag}-{n}"
                status, text = one_request(
                    args, context, "POST", "/api/messages", json.dumps({"name": name[:64], "message": "cluster load"})
                )
                ok = status == 201
                if ok:
                    result["committed"].append(json.loads(text)["id"])
                result["writes"] += 1
            else:
                status, text = one_request(args, context, "GET", args.path)
                ok = status == 200
                match = VERSION_RE.search(text)
                if ok and match:
                    version = match.group(1)
                    result["versions"][version] = result["versions"].get(version, 0) + 1
                    result["version_first_seen"].setdefault(version, round(now, 3))
                result["reads"] += 1
            # The start of the body tells who answered: HAProxy's own page, Apache's or the app's.
            reason = f"HTTP {status}" if ok else f"HTTP {status}: {' '.join(TAG_RE.sub(' ', text).split())[:120]}"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            ok, reason = False, f"{type(exc).__name__}: {exc}"
        result["requests"] += 1
        if not ok:
            result["failed"] += 1
            result["failures"].append({"t": round(now, 3), "write": write, "reason": reason[:200]})
        delay = start + n * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    result["started"] = result_started
    result["seconds"] = round(time.monotonic() - start, 3)
    times = [f["t"] for f in result["failures"]]
    result["failure_window"] = round(times[-1] - times[0], 3) if times else 0.0
    result["first_failure"] = times[0] if times else None
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True, help="the address to send every request to")
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--host", default="www.foobar.com", help="the site's name (Host header and SNI)")
    parser.add_argument("--path", default="/")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=30.0, help=f"seconds (at most {MAX_DURATION})")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds a request may take")
    parser.add_argument("--write", action="store_true", help="every second request posts a row")
    parser.add_argument("--tag", default="load", help="name prefix of the rows written")
    parser.add_argument("--stop-file", default="", help="stop as soon as this file exists")
    parser.add_argument("--out", default="", help="also write the JSON result here")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.rate > 200:
        parser.error("--rate must be between 0 and 200 requests per second")
    result = run(args)
    text = json.dumps(result)
    if args.out:
        tmp = pathlib.Path(args.out + ".tmp")
        tmp.write_text(text)
        tmp.rename(args.out)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
