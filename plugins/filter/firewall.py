# -*- coding: utf-8 -*-
# Copyright: foobar.webstack developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the firewall drop-ins that service roles put into linux_base's nftables chain."""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError

DOCUMENTATION_NFT_ACCEPT = """
name: nft_accept
short_description: nftables rules that accept ports, optionally from given sources only
description:
  - Turns C({tcp: [80, 443], udp: [53]}) into the lines of a drop-in for linux_base's input chain.
  - With sources, IPv4 and IPv6 sources get rules of their own (C(ip saddr), C(ip6 saddr)).
"""


def _networks(sources, name):
    if not isinstance(sources, (list, tuple)):
        raise AnsibleFilterError(f"{name} must be a list of addresses or networks, got {sources!r}")
    networks = []
    for source in sources:
        try:
            networks.append(ipaddress.ip_network(str(source), strict=False))
        except ValueError:
            raise AnsibleFilterError(f"{name}: {source!r} is not an IP address or network") from None
    return networks


def invalid_networks(sources):
    """The entries of sources that are not an IP address or network (CIDR)."""
    if not isinstance(sources, (list, tuple)):
        return [sources]
    bad = []
    for source in sources:
        try:
            ipaddress.ip_network(str(source), strict=False)
        except ValueError:
            bad.append(source)
    return bad


def in_network(address, network):
    """Whether address is an IP address inside network (CIDR, or address/netmask); False for bad input."""
    try:
        return ipaddress.ip_address(str(address)) in ipaddress.ip_network(str(network), strict=False)
    except ValueError:
        return False


def network_has(network, address):
    """in_network with the network first (for map over a list of networks)."""
    return in_network(address, network)


def _set(items):
    items = list(items)
    return str(items[0]) if len(items) == 1 else "{ " + ", ".join(str(i) for i in items) + " }"


def nft_accept(ports, sources=None, name="sources"):
    """Accept rules for ports ({'tcp': [...], 'udp': [...]}), from sources only when given."""
    if not isinstance(ports, dict):
        raise AnsibleFilterError(f"nft_accept takes a dict of protocol: ports, got {ports!r}")
    networks = _networks(sources or [], name)
    families = [("ip", [n for n in networks if n.version == 4]), ("ip6", [n for n in networks if n.version == 6])]
    lines = []
    for proto in sorted(ports):
        if proto not in ("tcp", "udp"):
            raise AnsibleFilterError(f"nft_accept: protocol must be tcp or udp, got {proto!r}")
        wanted = sorted({int(p) for p in ports[proto] or []})
        if not wanted:
            continue
        if not networks:
            lines.append(f"{proto} dport {_set(wanted)} accept")
            continue
        for family, members in families:
            if members:
                lines.append(f"{family} saddr {_set(sorted(members, key=lambda n: (n.network_address, n.prefixlen)))} "
                             f"{proto} dport {_set(wanted)} accept")
    return "\n".join(lines) + ("\n" if lines else "")


def firewall_dropin(contract, path, rules, wanted=True):
    """The foobar.webstack.files entries of a service role's drop-in in linux_base's firewall (its
    exported contract, the fact linux_base_firewall): none where linux_base manages no firewall, the
    drop-in removed when the role's port is not wanted, else the rules, checked with the contract's
    checker against the whole ruleset before they are written."""
    contract = contract or {}
    if not contract.get("active"):
        return []
    if not wanted:
        return [{"path": path, "state": "absent"}]
    return [{"path": path, "owner": "root", "group": "root", "mode": "0640", "content": rules,
             "validate": f"{contract['check_command']} %s {path}"}]


class FilterModule:
    def filters(self):
        return {"nft_accept": nft_accept, "invalid_networks": invalid_networks, "firewall_dropin": firewall_dropin,
                "in_network": in_network, "network_has": network_has}
