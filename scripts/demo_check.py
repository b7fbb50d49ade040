#!/usr/bin/env python3
"""Prove the demo works end to end; exits non-zero on any failure.

1. Ask the demo DNS server (its port published on 127.0.0.1) for www.foobar.com and foobar.com:
   the answer must be the web container's address (the cluster's: the floating address).
2. Fetch the dynamic page and /healthz over HTTPS through Apache, via the web container's port
   published on 127.0.0.1 (SNI and Host www.foobar.com): the page must show rows from MariaDB.
Traffic goes only to 127.0.0.1; the container's address is read with docker inspect.
"""

import http.client
import json
import os
import socket
import ssl
import subprocess
import sys

import dns.message
import dns.query
import dns.rdatatype

DOMAIN = os.environ.get("WEBSTACK_DOMAIN", "www.foobar.com")
APEX = DOMAIN.removeprefix("www.")
DNS_PORT = int(os.environ.get("WEBSTACK_DEMO_DNS_PORT", "5353"))
HTTPS_PORT = int(os.environ.get("WEBSTACK_DEMO_HTTPS_PORT", "8443"))


class LoopbackHTTPS(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port with the site's name for SNI (the demo certificate is self-signed)."""

    def __init__(self, name, port):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        super().__init__(name, port, context=context, timeout=10)
        self._name = name

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._name)


def web_address():
    # The cluster demo's names point at the floating address (scripts/demo.sh cluster sets it).
    if os.environ.get("WEBSTACK_DEMO_ADDRESS"):
        return os.environ["WEBSTACK_DEMO_ADDRESS"]
    out = subprocess.run(
        ["docker", "inspect", "webstack-demo-web"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return json.loads(out)[0]["NetworkSettings"]["Networks"]["webstack-demo"]["IPAddress"]


def resolve(name):
    query = dns.message.make_query(name, dns.rdatatype.A)
    answer = dns.query.udp(query, "127.0.0.1", port=DNS_PORT, timeout=5)
    return sorted(r.address for rrset in answer.answer for r in rrset if r.rdtype == dns.rdatatype.A)


def fetch(path):
    conn = LoopbackHTTPS(DOMAIN, HTTPS_PORT)
    try:
        conn.request("GET", path, headers={"Host": DOMAIN})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def main():
    failures = []
    expected = web_address()
    for name in (DOMAIN, APEX):
        got = resolve(name)
        ok = got == [expected]
        print(f"dns   {name} A -> {', '.join(got) or 'nothing'} {'ok' if ok else f'(expected {expected})'}")
        if not ok:
            failures.append(f"{name} resolves to {got}, not {expected}")
    status, _ = fetch("/healthz")
    print(f"https {DOMAIN}/healthz -> {status}")
    if status != 200:
        failures.append(f"/healthz answered {status}")
    status, body = fetch("/")
    rows = body.count("<li>")
    print(f"https {DOMAIN}/ -> {status}, {rows} message(s) from the database")
    if status != 200 or "foobar guestbook" not in body or rows < 1:
        failures.append(f"the page answered {status} with {rows} rows")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
