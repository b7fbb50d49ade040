"""foobar.webstack.ipv4_interface: the interface keepalived puts the floating address on."""

import importlib.util
import pathlib

import pytest
from ansible.errors import AnsibleFilterError

ROOT = pathlib.Path(__file__).resolve().parent.parent
_SPEC = importlib.util.spec_from_file_location("webstack_network_filter", ROOT / "plugins" / "filter" / "network.py")
network = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(network)

FACTS = {
    "interfaces": ["lo", "eth0", "eth1"],
    "lo": {"ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}},
    "eth0": {"ipv4": {"address": "10.0.0.5", "netmask": "255.255.255.0"}},
    "eth1": {"ipv4": {"address": "172.29.251.11", "netmask": "255.255.255.0"},
             "ipv4_secondaries": [{"address": "172.29.251.200", "netmask": "255.255.255.0"}]},
    "default_ipv4": {"interface": "eth0", "address": "10.0.0.5"},
}


def test_the_interface_whose_network_holds_the_address():
    assert network.ipv4_interface(FACTS, "172.29.251.200") == {"interface": "eth1", "address": "172.29.251.11"}


def test_the_default_interface_otherwise():
    assert network.ipv4_interface(FACTS, "192.0.2.1") == {"interface": "eth0", "address": "10.0.0.5"}


def test_a_given_interface():
    assert network.ipv4_interface(FACTS, "192.0.2.1", "eth1") == {"interface": "eth1", "address": "172.29.251.11"}


def test_bad_input():
    with pytest.raises(AnsibleFilterError, match="not an IPv4 address"):
        network.ipv4_interface(FACTS, "bogus")
    with pytest.raises(AnsibleFilterError, match="no IPv4 address on interface 'eth9'"):
        network.ipv4_interface(FACTS, "192.0.2.1", "eth9")
    with pytest.raises(AnsibleFilterError, match="no default IPv4 route"):
        network.ipv4_interface({"interfaces": []}, "192.0.2.1")
