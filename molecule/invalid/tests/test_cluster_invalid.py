"""site.yml refuses a bad cluster inventory before it changes anything on any host.

Each case writes an inventory of a cluster (lb, web, db groups, with their vault values) whose hosts
are aliases of this scenario's containers (ansible_host: webstack-invalid-site, or -nonet for the
Debian 13 node of the mixed-release case) with addresses of their own (webstack_address), with one
thing wrong, and runs site.yml from it: the run
fails in its validation play with a message that names the variable or group, and the packages and
every file under /etc of the containers are exactly as before.
"""

import copy
import os
import subprocess

import pytest
import yaml

from conftest import recap, scenario_host
from test_site_invalid import snapshot

SITE = "webstack-invalid-site"
TRIXIE = "webstack-invalid-nonet"
ROOT = os.path.abspath(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "..", ".."))

GOOD = {
    "all": {
        "vars": {
            "ansible_connection": "community.docker.docker",
            "webstack_domain": "www.foobar.com",
            "webstack_vip": "",  # set per case from the containers' network
            "keepalived_auth_password": "vrrp-t3s",
            "mysql_galera_sst_password": "sst-test-password",
            "linux_base_admin_users": [{"name": "deploy", "ssh_keys": [
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILnOCM2rWtsFpAHKs2VrcZWmZWFGm56b8TNp6YPJezrH cluster-invalid"]}],
        },
        "children": {
            "lb": {"hosts": {"lb1": {"ansible_host": SITE}, "lb2": {"ansible_host": SITE}}},
            "db_arbitrator": {"hosts": {"lb1": {}}},
            "web": {"hosts": {"web1": {"ansible_host": SITE}, "web2": {"ansible_host": SITE}}},
            "db": {"hosts": {"db1": {"ansible_host": SITE}, "db2": {"ansible_host": SITE}}},
        },
    }
}


def without_db(inv):
    del inv["all"]["children"]["db"]
    del inv["all"]["children"]["db_arbitrator"]
    del inv["all"]["children"]["lb"]


def vip_outside(inv):
    inv["all"]["vars"]["webstack_vip"] = "10.99.0.200"


def even_votes(inv):
    del inv["all"]["children"]["db_arbitrator"]


def mixed_releases(inv):
    inv["all"]["children"]["db"]["hosts"]["db2"]["ansible_host"] = TRIXIE


def no_vrrp_password(inv):
    del inv["all"]["vars"]["keepalived_auth_password"]


# (case, change to the good inventory, text the failure must contain)
CASES = [
    ("several_web_no_db", without_db, "there is no db group"),
    ("vip_outside_the_lb_network", vip_outside, "webstack_vip must be a free IPv4 address in the load balancers' network"),
    ("even_database_votes", even_votes, "Galera needs an odd number of votes"),
    ("mixed_galera_releases", mixed_releases, "The db group mixes Debian releases"),
    ("missing_vrrp_password", no_vrrp_password, "keepalived_auth_password"),
]


@pytest.fixture(scope="module")
def containers():
    return [scenario_host(SITE), scenario_host(TRIXIE)]


# Each alias gets an address of its own (webstack_address) in the containers' network (Docker's
# default bridge, a /16): the checks that compare hosts see a real cluster's shape.
ALIASES = {"lb1": 11, "lb2": 12, "web1": 21, "web2": 22, "db1": 31, "db2": 32}


def prefix(host):
    """The first two octets of the container's address (its network is Docker's default /16)."""
    cidr = host.check_output("ip -4 -o addr show dev eth0 | awk '{print $4}' | head -n1")
    assert cidr.endswith("/16"), cidr
    return ".".join(cidr.split("/")[0].split(".")[:2])


@pytest.mark.parametrize("case, change, expected", CASES, ids=[c[0] for c in CASES])
def test_a_bad_cluster_is_refused_before_any_change(containers, tmp_path, case, change, expected):
    inventory = copy.deepcopy(GOOD)
    net = prefix(containers[0])
    inventory["all"]["vars"]["webstack_vip"] = f"{net}.250.200"
    for group in inventory["all"]["children"].values():
        for alias, hostvars in group["hosts"].items():
            if "ansible_host" in hostvars:
                hostvars["webstack_address"] = f"{net}.250.{ALIASES[alias]}"
    change(inventory)
    path = tmp_path / f"{case}.yml"
    path.write_text(yaml.safe_dump(inventory))
    before = [snapshot(host) for host in containers]
    proc = subprocess.run(["ansible-playbook", "-i", str(path), os.path.join(ROOT, "site.yml")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, timeout=600,
                          cwd=ROOT)
    output = proc.stdout
    assert proc.returncode != 0, output[-3000:]
    assert expected in output, output[-4000:]
    assert "PLAY [Base every host]" not in output, output[-3000:]
    assert all(counts["changed"] == 0 for counts in recap(output).values()), output[-3000:]
    assert [snapshot(host) for host in containers] == before, "a container changed although the input was refused"
