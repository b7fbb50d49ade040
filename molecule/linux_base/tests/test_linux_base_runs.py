"""linux_base runs again on a converged host: changed settings, hand edits, a failing run, and back.

Runs after test_linux_base.py (pytest takes the files in name order). Each test runs converge.yml once
over both hosts (the two Debian releases side by side, one ansible-playbook start-up instead of two),
checks every host on its own, then puts the hosts back as converged with the tags of the concerns the
test changed (the checks after each put-back prove it complete).
"""

import json
import re

from conftest import assert_both_releases, changed, name_of, recap, run_playbook
from test_linux_base import SSH_OPTS

HANDLERS = ("Check sshd config", "Reload sshd", "Reload firewall", "Apply sysctl settings", "Restart journald")
RULES = "nft list table inet foobar_webstack"
DROPIN = "/etc/ssh/sshd_config.d/10-foobar-webstack.conf"
SNTRUP = "sntrup761x25519-sha512@openssh.com"
SSHD_HANDLERS = {"Check sshd config", "Reload sshd"}
MACS_512 = '{"linux_base_ssh_macs": ["hmac-sha2-512-etm@openssh.com"]}'


def converge(*args):
    """converge.yml over every host of the scenario."""
    return run_playbook("converge.yml", *args)


def put_back_ssh():
    return converge("--tags", "linux_base_ssh")


def handlers_run(output, name):
    """The handlers that acted on one host: notified through one topic, the others print their banner
    and skip."""
    acted = set()
    for block in output.split("RUNNING HANDLER [foobar.webstack.linux_base : ")[1:]:
        handler, _, body = block.partition("]")
        body = body.split("\n\n", 1)[0]  # the banner's own lines: one per host
        if handler in HANDLERS and re.search(rf"^(ok|changed): \[{re.escape(name)}\]", body, re.M):
            acted.add(handler)
    return acted


def assert_sshd_alone_reloaded(proc, host, setting):
    """The run changed the sshd drop-in alone: two changes (the files task and the reload), only sshd's
    handlers acted, and the running sshd has the new setting."""
    name = name_of(host)
    assert changed(proc, host) == 2, (name, proc.stdout[-4000:])
    assert handlers_run(proc.stdout, name) == SSHD_HANDLERS, (name, proc.stdout[-4000:])
    assert setting in host.check_output("sshd -T"), name


def offers_kex(host, kex):
    """Whether the running sshd (not its files) negotiates this key exchange (auth fails either way)."""
    res = host.run(f"ssh {SSH_OPTS} -o KexAlgorithms={kex} nobody@127.0.0.1 true")
    return "no matching key exchange method" not in res.stderr


def test_a_changed_file_reloads_only_its_service(hosts):
    """All files are one task: the handlers must still act only for their own files."""
    pids = {name_of(h): h.check_output("systemctl show -P MainPID ssh") for h in hosts}
    proc = converge("-e", MACS_512)
    try:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        for host in hosts:
            name = name_of(host)
            assert_sshd_alone_reloaded(proc, host, "macs hmac-sha2-512-etm@openssh.com")
            assert host.check_output("systemctl show -P MainPID ssh") == pids[name], name  # reloaded, not restarted
    finally:
        proc = put_back_ssh()
    assert proc.returncode == 0, proc.stdout[-3000:]
    for host in hosts:
        assert handlers_run(proc.stdout, name_of(host)) == SSHD_HANDLERS, proc.stdout[-4000:]
        assert "hmac-sha2-256-etm@openssh.com" in host.check_output("sshd -T"), name_of(host)


def test_tags_of_one_concern_write_only_its_files(hosts):
    """--tags linux_base_ssh writes the sshd drop-in and no other concern's file (journald's here)."""
    extra = '{"linux_base_ssh_macs": ["hmac-sha2-512-etm@openssh.com"], "linux_base_journald_system_max_use": "150M"}'
    proc = converge("--tags", "linux_base_ssh", "-e", extra)
    try:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        for host in hosts:
            name = name_of(host)
            assert_sshd_alone_reloaded(proc, host, "macs hmac-sha2-512-etm@openssh.com")
            journald = host.file("/etc/systemd/journald.conf.d/60-foobar-webstack.conf").content_string
            assert "SystemMaxUse=200M" in journald, name
    finally:
        proc = put_back_ssh()
    assert proc.returncode == 0, proc.stdout[-3000:]
    for host in hosts:
        assert "hmac-sha2-256-etm@openssh.com" in host.check_output("sshd -T"), name_of(host)


def test_rules_changed_by_hand_are_put_back(hosts):
    """Loaded rules that differ from the ruleset on disk: the next run loads it again and says so."""
    before = {name_of(h): h.check_output(RULES) for h in hosts}
    for host in hosts:
        host.check_output("nft flush chain inet foobar_webstack input")
        assert "tcp dport" not in host.check_output(RULES)
    proc = converge()
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Firewall | Load the ruleset again" in proc.stdout
    for host in hosts:
        assert changed(proc, host) == 1, (name_of(host), proc.stdout[-4000:])
        assert host.check_output(RULES) == before[name_of(host)], name_of(host)


def test_sshd_settings_on_disk_but_not_in_force_are_applied(hosts):
    """The drop-in already says what the role wants but sshd never read it (edited by hand, or a run
    that failed before its handlers): the run reloads sshd and reports the change."""
    extra = '{"linux_base_ssh_kex_algorithms": ["curve25519-sha256"]}'
    try:
        for host in hosts:
            assert offers_kex(host, SNTRUP), name_of(host)
            host.check_output(f"sed -i 's/^KexAlgorithms .*/KexAlgorithms curve25519-sha256/' {DROPIN}")
            assert offers_kex(host, SNTRUP), name_of(host)  # not reloaded: the running daemon still offers it
        proc = converge("-e", extra)
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert "Ssh | Reload sshd, it does not run the configuration on disk" in proc.stdout
        for host in hosts:
            assert changed(proc, host) == 1, (name_of(host), proc.stdout[-4000:])  # the reload, no file
            assert not offers_kex(host, SNTRUP), name_of(host)
        again = converge("-e", extra)
        for host in hosts:
            assert changed(again, host) == 0, (name_of(host), again.stdout[-4000:])
    finally:
        proc = put_back_ssh()
    assert proc.returncode == 0, proc.stdout[-3000:]
    for host in hosts:
        assert offers_kex(host, SNTRUP), name_of(host)


def test_hardening_applies_although_a_later_task_fails(hosts):
    """A run that changes sshd and then fails (an admin's key is rejected) still has sshd running the
    new settings: the handlers run right after the files, not at the end of the play."""
    key = "{{ __test_admin_pub.content | b64decode | trim }}"  # each host's own, as converge.yml reads it
    users = [{"name": "alice", "ssh_keys": [key]}, {"name": "carol", "ssh_keys": ["garbage-not-a-key"]}]
    extra = json.dumps({"linux_base_ssh_kex_algorithms": ["curve25519-sha256"], "linux_base_admin_users": users})
    try:
        proc = converge("-e", extra)
        assert proc.returncode != 0, proc.stdout[-3000:]
        for host in hosts:
            assert recap(proc.stdout)[name_of(host)]["failed"] == 1, (name_of(host), proc.stdout[-3000:])
            assert not offers_kex(host, SNTRUP), name_of(host)  # in force although the run failed after writing it
        assert "invalid key specified" in proc.stdout + proc.stderr, proc.stdout[-3000:]
    finally:
        for host in hosts:
            host.run("userdel -r carol")
        proc = converge("--tags", "linux_base_ssh,linux_base_users")
    assert proc.returncode == 0, proc.stdout[-3000:]
    for host in hosts:
        assert offers_kex(host, SNTRUP), name_of(host)


def test_unattended_upgrades_off_removes_them(hosts):
    try:
        proc = converge("-e", '{"linux_base_unattended_upgrades_enabled": false}')
        assert proc.returncode == 0, proc.stdout[-3000:]
        for host in hosts:
            # The periodic run is off; the package's own 50unattended-upgrades (its default origins) stays.
            dump = host.check_output("apt-config dump")
            confs = host.check_output("grep -rl 'Unattended-Upgrade' /etc/apt/apt.conf.d/ || true")
            assert 'APT::Periodic::Unattended-Upgrade "1";' not in dump, (name_of(host), confs, proc.stdout[-4000:])
            assert not host.file("/etc/apt/apt.conf.d/52foobar-webstack-unattended-upgrades").exists, name_of(host)
    finally:
        proc = converge("--tags", "linux_base_packages,linux_base_unattended_upgrades")
    assert proc.returncode == 0, proc.stdout[-3000:]
    for host in hosts:
        assert 'APT::Periodic::Unattended-Upgrade "1";' in host.check_output("apt-config dump"), name_of(host)


def test_both_releases_ran(hosts):
    assert_both_releases(hosts)
