"""dns_server + dns_record on two containers: answers, updates, refusals, checked with dig and nsupdate.

Every query and update runs inside the web container against the DNS container on the scenario's
own Docker network; the controller sends no DNS traffic. The tests run in file order: the state
changes (update, absent) come after the checks of the converged state, and the last state-changing
test converges again, so a re-run of `verify` starts from the same place.
"""

import re
from collections import namedtuple

import pytest

from conftest import assert_check_mode_clean, assert_running, host_address, recap, run_playbook, scenario_host

NS = "webstack-dns-ns"
WEB = "webstack-dns-web"
ZONE = "foobar.com"
APEX = f"{ZONE}."
WWW = f"www.{ZONE}."
KEY_NAME = "foobar-webstack-update"
KEY_FILE = f"/etc/bind/{KEY_NAME}.key"
ZONE_FILE = f"/var/lib/bind/db.{ZONE}"
NEGATIVE_SECRET = "c2VjcmV0LXRoYXQtbm8tc2VydmVyLWtub3dzCg=="  # as in negative.yml

Answer = namedtuple("Answer", "name ttl type data")
Reply = namedtuple("Reply", "status flags answers")


@pytest.fixture(scope="module")
def ns():
    return scenario_host(NS)


@pytest.fixture(scope="module")
def web():
    return scenario_host(WEB)


@pytest.fixture(scope="module")
def tsig_secret(ns):
    return re.search(r'secret "([A-Za-z0-9+/=]+)";', ns.file(KEY_FILE).content_string).group(1)


@pytest.fixture(scope="module")
def web_ipv4(web):
    return host_address(web, 4)


@pytest.fixture(scope="module")
def web_ipv6(web):
    address = host_address(web, 6)
    assert address, "the web container has no global IPv6 address (the scenario network enables IPv6)"
    return address


def dig(web, name, rtype="A", options=""):
    """Ask the DNS container from the web container; the status, header flags and answer records."""
    out = web.check_output(f"dig @{NS} +time=3 +tries=1 {options} {name} {rtype}")
    status = re.search(r"status: (\w+)", out)
    assert status, f"no reply from {NS}:\n{out}"
    flags = re.search(r";; flags:([^;]*);", out).group(1).split()
    answers = []
    section = re.search(r";; ANSWER SECTION:\n(.*?)(?:\n\n|\Z)", out, re.S)
    for line in section.group(1).splitlines() if section else []:
        owner, ttl, _cls, rtype_, data = line.split(None, 4)
        answers.append(Answer(owner, int(ttl), rtype_, data.strip()))
    return Reply(status.group(1), flags, answers)


def values(reply, rtype):
    return sorted(a.data for a in reply.answers if a.type == rtype)


def ttls(reply, rtype):
    return {a.ttl for a in reply.answers if a.type == rtype}


def nsupdate(web, commands, key_option=""):
    """Send one dynamic update with nsupdate from the web container."""
    script = "\n".join([f"server {NS}", f"zone {ZONE}", *commands, "send"])
    return web.run(f"nsupdate -t 5 {key_option} <<'EOF'\n{script}\nEOF")


def run_ok(playbook, *args):
    """Run a playbook of the scenario; it must succeed. The recap per host."""
    proc = run_playbook(playbook, *args)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{playbook} failed:\n{output[-6000:]}"
    return recap(proc.stdout), output


# --- The converged state -------------------------------------------------------------------------


def test_named_running_and_config_valid(ns):
    assert_running(ns, "named")
    check = ns.run("named-checkconf -z -j /etc/bind/named.conf")
    assert check.rc == 0, check.stdout + check.stderr
    assert f"zone {ZONE}/IN: loaded serial" in check.stdout


def test_drop_in_configuration_only(ns):
    """named.conf stays the distribution's; the role's file is included from named.conf.local."""
    modified = [line.split()[-1] for line in ns.check_output("dpkg --verify bind9 || true").splitlines()]
    assert "/etc/bind/named.conf" not in modified
    assert 'include "/etc/bind/named.conf.foobar-webstack";' in ns.file("/etc/bind/named.conf.local").content_string
    effective = ns.check_output("named-checkconf -p")
    assert "recursion no;" in effective
    # The key may change only the site's names (and their ACME challenges), never the whole zone.
    assert re.search(r'grant "?foobar-webstack-update"? name "?www\.foobar\.com\."? "?A"? "?AAAA"? "?CNAME"?;', effective), effective
    assert "zonesub" not in effective and "subdomain" not in effective


def test_tsig_key_file(ns):
    key = ns.file(KEY_FILE)
    assert key.user == "root" and key.group == "bind" and key.mode == 0o640
    assert re.search(r'algorithm hmac-sha256;\s*secret "[A-Za-z0-9+/=]+";', key.content_string)
    # named (user bind) reads it; nobody else does
    assert ns.run(f"runuser -u bind -- test -r {KEY_FILE}").rc == 0
    assert ns.run(f"runuser -u nobody -- test -r {KEY_FILE}").rc != 0


def test_soa_ns_and_glue(web, ns):
    soa = dig(web, ZONE, "SOA")
    assert soa.status == "NOERROR" and "aa" in soa.flags
    mname, rname = values(soa, "SOA")[0].split()[:2]
    assert (mname, rname) == (f"ns1.{ZONE}.", f"hostmaster.{ZONE}.")
    assert values(dig(web, ZONE, "NS"), "NS") == [f"ns1.{ZONE}."]
    assert values(dig(web, f"ns1.{ZONE}", "A"), "A") == [host_address(ns, 4)]
    assert values(dig(web, f"ns1.{ZONE}", "AAAA"), "AAAA") == [host_address(ns, 6)]


def test_apex_and_www_point_at_web_host(web, web_ipv4):
    for name in (ZONE, f"www.{ZONE}"):
        reply = dig(web, name, "A")
        assert reply.status == "NOERROR" and "aa" in reply.flags, reply
        assert values(reply, "A") == [web_ipv4], reply
        assert ttls(reply, "A") == {3600}
        assert values(reply, "CNAME") == []


def test_aaaa_from_the_web_hosts_ipv6_address(web, web_ipv6):
    for name in (ZONE, f"www.{ZONE}"):
        reply = dig(web, name, "AAAA")
        assert values(reply, "AAAA") == [web_ipv6], reply
        assert ttls(reply, "AAAA") == {3600}


def test_query_over_ipv6_transport(web, ns, web_ipv4):
    out = web.check_output(f"dig @{host_address(ns, 6)} +short +time=3 +tries=1 www.{ZONE} A")
    assert out.split() == [web_ipv4]


# --- What the server refuses -------------------------------------------------------------------


def test_recursion_refused_and_nothing_sent_out(web, ns):
    reply = dig(web, "example.org", "A")
    assert reply.status == "REFUSED" and "ra" not in reply.flags and reply.answers == []
    reply = dig(web, "www.example.org", "A", "+norecurse")
    assert reply.status == "REFUSED"
    # named's own counters since it started: it never sent a query to any other server.
    ns.check_output("rndc stats")
    dump = ns.file("/var/cache/bind/named.stats").content_string.split("+++ Statistics Dump +++")[-1]
    outgoing = re.search(r"\+\+ Outgoing Queries \+\+\n(.*?)\n\+\+ ", dump, re.S).group(1)
    assert not re.search(r"^\s+\d+ ", outgoing, re.M), f"named sent queries:\n{outgoing}"
    resolver = re.search(r"\+\+ Resolver Statistics \+\+\n(.*?)\n\+\+ ", dump, re.S).group(1)
    assert "queries sent" not in resolver, f"named resolved something:\n{resolver}"
    assert re.search(r"^\s+[1-9]\d* recursive queries rejected", dump, re.M)


def test_version_hidden_and_transfer_refused(web):
    version = dig(web, "version.bind", "TXT", "-c CH")
    assert version.answers == [], version
    axfr = web.run(f"dig @{NS} +time=3 +tries=1 {ZONE} AXFR")
    assert "Transfer failed." in axfr.stdout and "SOA" not in axfr.stdout


def test_update_with_wrong_secret_refused(web):
    wrong = "d3JvbmctZm9vYmFyLXdlYnN0YWNrLXNlY3JldA=="
    res = nsupdate(web, [f"update add evil.{ZONE} 60 A 192.0.2.66"], f"-y hmac-sha256:{KEY_NAME}:{wrong}")
    output = res.stdout + res.stderr
    assert res.rc != 0 and "update failed: NOTAUTH(BADSIG)" in output, output
    assert dig(web, f"evil.{ZONE}").status == "NXDOMAIN"


def test_update_with_unknown_key_refused(web):
    res = nsupdate(web, [f"update add evil.{ZONE} 60 A 192.0.2.66"], "-y hmac-sha256:not-our-key:c2VjcmV0Cg==")
    output = res.stdout + res.stderr
    assert res.rc != 0 and "update failed: NOTAUTH(BADKEY)" in output, output
    assert dig(web, f"evil.{ZONE}").status == "NXDOMAIN"


def test_unsigned_update_refused(web):
    res = nsupdate(web, [f"update add evil.{ZONE} 60 A 192.0.2.66"])
    output = res.stdout + res.stderr
    assert res.rc != 0 and "update failed: REFUSED" in output, output
    assert dig(web, f"evil.{ZONE}").status == "NXDOMAIN"


def test_right_key_changes_only_the_granted_names_and_types(web, ns):
    """The key may change the site's names and the ACME challenge TXT records, nothing else: another
    name, another type at a granted name, and the delegation are refused (update-policy)."""
    key = ns.file(KEY_FILE).content_string
    web.check_output("install -m 0600 /dev/null /root/test-update.key")
    web.check_output(f"cat > /root/test-update.key <<'EOF'\n{key}\nEOF")
    try:
        # the same key is accepted for the ACME challenge (so the refusals below are the policy's)
        res = nsupdate(web, [f'update add _acme-challenge.{ZONE} 60 TXT "ok"'], "-k /root/test-update.key")
        assert res.rc == 0, res.stdout + res.stderr
        assert values(dig(web, f"_acme-challenge.{ZONE}", "TXT"), "TXT") == ['"ok"']
        for update, name, rtype in (
            (f'update add check-key.{ZONE} 60 TXT "no"', f"check-key.{ZONE}", "TXT"),  # another name
            (f"update add evil.{ZONE} 60 A 192.0.2.66", f"evil.{ZONE}", "A"),  # another name, a granted type
            (f"update add {ZONE} 60 MX 10 mail.evil.example.", ZONE, "MX"),  # a granted name, another type
            (f'update add www.{ZONE} 60 TXT "no"', f"www.{ZONE}", "TXT"),
        ):
            res = nsupdate(web, [update], "-k /root/test-update.key")
            output = res.stdout + res.stderr
            assert res.rc != 0 and "update failed: REFUSED" in output, (update, output)
            assert not values(dig(web, name, rtype), rtype), update
        res = nsupdate(web, [f"update add {ZONE} 60 NS ns.evil.example."], "-k /root/test-update.key")
        output = res.stdout + res.stderr
        assert res.rc != 0 and "update failed: REFUSED" in output, output
        assert values(dig(web, ZONE, "NS"), "NS") == [f"ns1.{ZONE}."]
    finally:
        nsupdate(web, [f"update delete _acme-challenge.{ZONE} TXT"], "-k /root/test-update.key")
        web.run("rm -f /root/test-update.key")
    assert dig(web, f"_acme-challenge.{ZONE}", "TXT").status == "NXDOMAIN"


# --- Bad input --------------------------------------------------------------------------------------


def test_bad_input_fails_clearly_before_any_change(web, web_ipv4):
    """negative.yml runs both roles with bad input in block/rescue and checks each message.

    Five input errors stop in the roles' checks before anything is sent; a well-formed secret the
    server does not know is refused for every record set (the role's own rescue adds one), and the
    report names each record and the error without showing the secret."""
    counts, output = run_ok("negative.yml")
    assert counts[WEB]["rescued"] == 5 + 1 + 1 and counts[WEB]["changed"] == 0, output[-4000:]
    assert NEGATIVE_SECRET not in output
    assert counts[NS]["rescued"] == 1 and counts[NS]["changed"] == 0, output[-4000:]
    assert values(dig(web, f"www.{ZONE}"), "A") == [web_ipv4]


# --- Changes: TTL and addresses, absent, back ----------------------------------------------------


def test_update_changes_ttl_addresses_and_www_in_place(web, ns, web_ipv4, web_ipv6, tsig_secret):
    counts, output = run_ok("update.yml")
    assert counts[WEB]["changed"] > 0 and counts[NS]["changed"] == 0, output[-4000:]
    assert tsig_secret not in output  # exported by dns_server, used by dns_record, never shown

    apex = dig(web, ZONE, "A")
    assert values(apex, "A") == sorted([web_ipv4, "192.0.2.10"]) and ttls(apex, "A") == {600}, apex
    apex6 = dig(web, ZONE, "AAAA")
    assert values(apex6, "AAAA") == sorted([web_ipv6, "2001:db8::10"]) and ttls(apex6, "AAAA") == {600}, apex6
    www = dig(web, f"www.{ZONE}", "A")
    assert values(www, "CNAME") == [APEX] and values(www, "A") == sorted([web_ipv4, "192.0.2.10"]), www
    assert values(dig(web, f"www.{ZONE}", "AAAA"), "AAAA") == sorted([web_ipv6, "2001:db8::10"])

    # named folds the journal into the zone file; the same input again (dns_server included)
    # changes nothing: the zone file is not rewritten, the value lists and the CNAME are in place.
    ns.check_output(f"rndc sync -clean {ZONE}")
    assert "192.0.2.10" in ns.file(ZONE_FILE).content_string
    counts, output = run_ok("update.yml")
    assert counts[WEB]["changed"] == 0 and counts[NS]["changed"] == 0, output[-6000:]
    assert values(dig(web, ZONE, "A"), "A") == sorted([web_ipv4, "192.0.2.10"])


def test_absent_removes_the_records(web):
    counts, output = run_ok("absent.yml")
    assert counts[WEB]["changed"] > 0, output[-4000:]
    assert dig(web, f"www.{ZONE}", "A").status == "NXDOMAIN"
    for rtype in ("A", "AAAA"):
        apex = dig(web, ZONE, rtype)
        assert apex.status == "NOERROR" and apex.answers == [], apex  # the zone itself stays
    assert values(dig(web, ZONE, "SOA"), "SOA")

    counts, output = run_ok("absent.yml")
    assert counts[WEB]["changed"] == 0, output[-4000:]


def test_converge_restores_the_records(web, web_ipv4, web_ipv6):
    counts, output = run_ok("converge.yml")
    assert counts[WEB]["changed"] > 0, output[-4000:]
    www = dig(web, f"www.{ZONE}", "A")
    assert values(www, "A") == [web_ipv4] and values(www, "CNAME") == [] and ttls(www, "A") == {3600}, www
    assert values(dig(web, ZONE, "AAAA"), "AAAA") == [web_ipv6]


# --- Check mode, last: on the converged hosts it must change nothing ------------------------------


def test_check_mode_is_clean_on_the_dns_server(ns):
    assert_check_mode_clean(ns)


def test_check_mode_is_clean_on_the_web_host(web):
    assert_check_mode_clean(web)
