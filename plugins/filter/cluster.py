# -*- coding: utf-8 -*-
# Copyright: foobar.webstack developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters site.yml uses to describe a cluster's members to the roles that connect them."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def cluster_servers(hosts, addresses, extra=None):
    """[{name: host, address: addresses[host], **extra}] for each host, in order; every host needs an address."""
    if not isinstance(addresses, dict):
        raise AnsibleFilterError(f"cluster_servers needs a dict of host: address, got {addresses!r}")
    servers = []
    for host in hosts:
        address = addresses.get(host) or ""
        if not address:
            raise AnsibleFilterError(f"cluster_servers: no address known for host {host!r}")
        servers.append({"name": str(host), "address": str(address), **(extra or {})})
    return servers


class FilterModule:
    def filters(self):
        return {"cluster_servers": cluster_servers}
