"""foobar.webstack.nft_accept and invalid_networks: the rules service roles drop into linux_base's
firewall (nft itself checks them on the test hosts: molecule/linux_base and molecule/site)."""

import importlib.util
import pathlib

import pytest
from ansible.errors import AnsibleFilterError

ROOT = pathlib.Path(__file__).resolve().parent.parent
_SPEC = importlib.util.spec_from_file_location("webstack_firewall_filter", ROOT / "plugins" / "filter" / "firewall.py")
firewall = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(firewall)
nft_accept = firewall.nft_accept


def test_ports_open_to_everyone():
    assert nft_accept({"tcp": [443, 80, 80]}) == "tcp dport { 80, 443 } accept\n"
    assert nft_accept({"udp": [53], "tcp": [53]}) == "tcp dport 53 accept\nudp dport 53 accept\n"
    assert nft_accept({"tcp": []}) == ""


def test_sources_split_by_family():
    rules = nft_accept({"tcp": [3306]}, ["10.0.0.0/24", "2001:db8::1", "10.0.1.5"])
    assert rules == (
        "ip saddr { 10.0.0.0/24, 10.0.1.5/32 } tcp dport 3306 accept\n"
        "ip6 saddr 2001:db8::1/128 tcp dport 3306 accept\n"
    )


def test_bad_input_names_the_variable():
    with pytest.raises(AnsibleFilterError, match="mysql_firewall_sources: '10.0.0.300'"):
        nft_accept({"tcp": [3306]}, ["10.0.0.300"], "mysql_firewall_sources")
    with pytest.raises(AnsibleFilterError, match="tcp or udp"):
        nft_accept({"sctp": [1]})
    assert firewall.invalid_networks(["10.0.0.1", "bogus", "::1", "10.0.0.0/33"]) == ["bogus", "10.0.0.0/33"]
    assert firewall.invalid_networks("10.0.0.1") == ["10.0.0.1"]


def test_firewall_dropin_follows_the_contract():
    contract = {"active": True, "check_command": "/usr/local/sbin/check", "dropin_dir": "/d", "service": "fw"}
    (entry,) = firewall.firewall_dropin(contract, "/d/50-x.nft", "tcp dport 80 accept\n")
    assert entry == {"path": "/d/50-x.nft", "owner": "root", "group": "root", "mode": "0640",
                     "content": "tcp dport 80 accept\n", "validate": "/usr/local/sbin/check %s /d/50-x.nft"}
    assert firewall.firewall_dropin(contract, "/d/50-x.nft", "x", False) == [{"path": "/d/50-x.nft", "state": "absent"}]
    # No firewall managed by linux_base on the host: the role writes nothing, whatever it wants.
    assert firewall.firewall_dropin(dict(contract, active=False), "/d/50-x.nft", "x") == []
    assert firewall.firewall_dropin({}, "/50-x.nft", "x", False) == []


def test_in_network():
    assert firewall.in_network("172.29.250.200", "172.29.250.0/24")
    assert firewall.in_network("172.29.250.200", "172.29.250.10/255.255.255.0")
    assert not firewall.in_network("172.29.251.200", "172.29.250.0/24")
    assert not firewall.in_network("not-an-ip", "172.29.250.0/24")
    assert not firewall.in_network("172.29.250.200", "bogus")


def test_cluster_servers():
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location("cluster", pathlib.Path(__file__).parent.parent / "plugins/filter/cluster.py")
    cluster = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cluster)
    assert cluster.cluster_servers(["w1", "w2"], {"w1": "10.0.0.1", "w2": "10.0.0.2"}, {"port": 443}) == [
        {"name": "w1", "address": "10.0.0.1", "port": 443},
        {"name": "w2", "address": "10.0.0.2", "port": 443},
    ]
    with pytest.raises(Exception, match="no address known for host 'w3'"):
        cluster.cluster_servers(["w3"], {"w3": ""})
