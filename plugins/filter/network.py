# -*- coding: utf-8 -*-
# Copyright: foobar.webstack developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that pick a host's interface and address from its gathered network facts."""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError

DOCUMENTATION_IPV4_INTERFACE = """
name: ipv4_interface
short_description: The interface (and its primary IPv4 address) on which an IPv4 address is local
description:
  - Takes a host's C(ansible_facts) (gathered with at least the C(network) subset) and an IPv4 address such
    as a floating address, and returns C({interface, address}), the interface whose IPv4 network (primary or
    secondary) contains that address and that interface's primary IPv4 address.
  - Without such an interface, the host's default IPv4 interface and address.
  - With the interface given, that interface and its primary IPv4 address.
"""


def _iface_facts(facts, name):
    return facts.get(name.replace("-", "_").replace(".", "_")) or facts.get(name) or {}


def ipv4_interface(facts, address, interface=""):
    """{interface, address}: where address (an IPv4 address) is on-link, else the default route's."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError("ipv4_interface takes a host's ansible_facts (a dict)")
    try:
        wanted = ipaddress.IPv4Address(str(address))
    except ValueError:
        raise AnsibleFilterError(f"ipv4_interface: {address!r} is not an IPv4 address") from None
    if interface:
        primary = (_iface_facts(facts, interface).get("ipv4") or {}).get("address", "")
        if not primary:
            raise AnsibleFilterError(f"ipv4_interface: the host has no IPv4 address on interface {interface!r}")
        return {"interface": interface, "address": primary}
    for name in sorted(facts.get("interfaces") or []):
        data = _iface_facts(facts, name)
        primary = data.get("ipv4") or {}
        for entry in [primary] + list(data.get("ipv4_secondaries") or []):
            if not entry.get("address") or not entry.get("netmask"):
                continue
            network = ipaddress.IPv4Network(f"{entry['address']}/{entry['netmask']}", strict=False)
            if wanted in network and not network.is_loopback and primary.get("address"):
                return {"interface": name, "address": primary["address"]}
    default = facts.get("default_ipv4") or {}
    if not default.get("interface") or not default.get("address"):
        raise AnsibleFilterError(f"ipv4_interface: no interface has a network holding {address} and the host has no default IPv4 route")
    return {"interface": default["interface"], "address": default["address"]}


class FilterModule:
    def filters(self):
        return {"ipv4_interface": ipv4_interface}
