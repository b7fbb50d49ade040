"""linux_base on a systemd container: what a converged host must do, checked by behaviour."""

import json
import re
import socket
import time

from conftest import assert_check_mode_clean, assert_running, recap, run_playbook

SSH_OPTS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=5"


def test_hostname_and_fqdn(host):
    assert host.check_output("hostname") == "web1"
    assert host.check_output("getent hosts web1.foobar.com").split()[1:] == ["web1.foobar.com", "web1"]


def test_timezone_and_locale(host):
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Europe/Paris"
    assert host.check_output("date +%Z") in ("CET", "CEST")
    assert "en_US.utf8" in host.check_output("locale -a").split()
    assert host.check_output("env -i bash -lc 'source /etc/default/locale; echo $LANG'") == "en_US.UTF-8"
    assert host.check_output("env -i LANG=en_US.UTF-8 perl -e 'print 1' 2>&1") == "1"  # no locale warning


def test_packages(host):
    for name in ("curl", "jq", "nftables", "openssh-server", "unattended-upgrades", "systemd-timesyncd", "sudo"):
        assert host.package(name).is_installed, name


def test_time_sync_enabled(host):
    assert host.service("systemd-timesyncd").is_enabled


def test_admin_users(host):
    alice = host.user("alice")
    assert alice.exists and alice.shell == "/bin/bash" and alice.gecos.startswith("Alice Admin")
    keys = host.file("/home/alice/.ssh/authorized_keys")
    assert keys.user == "alice" and keys.mode == 0o600
    assert keys.content_string.strip() == host.file("/root/test_admin_key.pub").content_string.strip()
    assert host.user("bob").exists


def test_absent_user_removed_but_home_kept(host):
    assert not host.user("mallory").exists
    assert host.file("/home/mallory").is_directory  # data is kept unless remove_home asks


def test_sudo_for_admins_only(host):
    assert host.check_output("runuser -u alice -- sudo -n id -u") == "0"
    assert host.run("runuser -u bob -- sudo -n true").rc != 0
    assert host.run("visudo -c").rc == 0


def test_sshd_effective_settings(host):
    assert_running(host, "ssh")
    settings = dict(
        line.split(" ", 1) for line in host.check_output("sshd -T").splitlines() if " " in line
    )
    assert settings["permitrootlogin"] == "no"
    assert settings["passwordauthentication"] == "no"
    assert settings["kbdinteractiveauthentication"] == "no"
    assert settings["x11forwarding"] == "no"
    assert settings["kexalgorithms"] == "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org"
    assert settings["ciphers"] == "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com"
    assert "hmac-sha1" not in settings["macs"]


def test_ssh_key_login_and_sudo(host):
    out = host.check_output(f"ssh {SSH_OPTS} -i /root/test_admin_key alice@127.0.0.1 sudo -n id -u")
    assert out == "0"


def test_ssh_password_login_refused(host):
    res = host.run(
        f"ssh {SSH_OPTS} -o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive "
        "bob@127.0.0.1 true"
    )
    assert res.rc == 255 and "Permission denied (publickey)" in res.stderr


def test_firewall_ruleset_loaded(host):
    assert_running(host, "foobar-webstack-firewall")
    ruleset = host.check_output("nft list table inet foobar_webstack")
    assert "policy drop;" in ruleset
    assert "tcp dport { 22, 80, 443, 8443 } accept" in ruleset
    assert "udp dport 53 accept" in ruleset
    assert 'iif "lo" accept' in ruleset
    # The drop-in directory the service roles write to is included in the input chain.
    assert f'include "{DROPINS}/*.nft"' in host.file("/etc/foobar-webstack/nftables.nft").content_string


def _container_ip(host):
    return host.check_output("ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1")


def _connects(ip, port, timeout=3.0):
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def test_firewall_default_deny_from_outside(host):
    """From the controller to the test container: 22 is open, a listening but unlisted port is not."""
    ip = _container_ip(host)
    host.run("timeout 30 python3 -m http.server 9999 >/dev/null 2>&1 &")
    for _ in range(20):
        if host.run("ss -ltn 'sport = :9999' | grep -q 9999").rc == 0:
            break
        time.sleep(0.25)
    assert host.run("curl -s -o /dev/null http://127.0.0.1:9999/").rc == 0  # listening, loopback allowed
    assert _connects(ip, 22)
    assert not _connects(ip, 9999)
    host.run("pkill -f 'http.server 9999'")


DROPINS = "/etc/foobar-webstack/nftables.d"
CHECK = "/usr/local/sbin/foobar-webstack-firewall-check"


def test_firewall_dropin_opens_a_port_and_a_bad_one_is_refused(host):
    """A service role's drop-in, checked by the exported checker and loaded by a reload, opens its
    port from outside; a broken drop-in is refused before it reaches the directory."""
    ip = _container_ip(host)
    dropin = f"{DROPINS}/90-test.nft"
    host.run("timeout 60 python3 -m http.server 9998 >/dev/null 2>&1 &")
    try:
        for _ in range(20):
            if host.run("ss -ltn 'sport = :9998' | grep -q 9998").rc == 0:
                break
            time.sleep(0.25)
        assert not _connects(ip, 9998)
        bad = host.run(f"echo 'tcp dport 9998 acept' > /root/bad.nft && {CHECK} /root/bad.nft {dropin}")
        assert bad.rc == 1 and "Error" in bad.stderr, bad.stderr
        assert host.run(f"{CHECK} /root/bad.nft /etc/passwd").rc == 2
        good = host.run(f"echo 'tcp dport 9998 accept' > /root/good.nft && {CHECK} /root/good.nft {dropin}")
        assert good.rc == 0, good.stderr
        assert not host.file(dropin).exists  # the check stages a copy, it installs nothing
        host.check_output(f"cp /root/good.nft {dropin} && systemctl reload foobar-webstack-firewall")
        assert _connects(ip, 9998)
    finally:
        host.run(f"rm -f {dropin} && systemctl reload foobar-webstack-firewall")
        host.run("pkill -f 'http.server 9998'")
    assert not _connects(ip, 9998)


def test_unattended_upgrades(host):
    dump = host.check_output("apt-config dump")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    assert "Debian-Security" in dump
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in dump


def test_sysctl_and_journald(host):
    conf = host.file("/etc/sysctl.d/60-foobar-webstack.conf").content_string
    assert "net.ipv4.tcp_syncookies = 1" in conf and "net.ipv4.conf.all.rp_filter = 1" in conf
    if host.run("test -w /proc/sys/net/ipv4/tcp_syncookies").rc == 0:  # a VM or bare metal applies it
        assert host.check_output("sysctl -n net.ipv4.tcp_syncookies") == "1"
    journald = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "SystemMaxUse=200M" in journald
    assert_running(host, "systemd-journald")


HANDLERS = ("Check sshd config", "Reload sshd", "Reload firewall", "Apply sysctl settings", "Restart journald")


def handlers_run(output):
    """The handlers that acted: notified through one topic, the others print their banner and skip."""
    acted = set()
    for block in output.split("RUNNING HANDLER [foobar.webstack.linux_base : ")[1:]:
        name, _, body = block.partition("]")
        body = body.split("\n\n", 1)[0]  # the banner's own lines: one per host
        if name in HANDLERS and re.search(r"^(ok|changed): ", body, re.M):
            acted.add(name)
    return acted


def test_a_changed_file_reloads_only_its_service(host):
    """All files are one task: the handlers must still act only for their own files."""
    name = host.backend.get_hostname()
    sshd_pid = host.check_output("systemctl show -P MainPID ssh")
    proc = run_playbook("converge.yml", "-e", '{"linux_base_ssh_macs": ["hmac-sha2-512-etm@openssh.com"]}', limit=name)
    try:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert recap(proc.stdout)[name]["changed"] == 2, proc.stdout[-4000:]  # the files task and the reload
        assert handlers_run(proc.stdout) == {"Check sshd config", "Reload sshd"}, proc.stdout[-4000:]
        assert "macs hmac-sha2-512-etm@openssh.com" in host.check_output("sshd -T")
        assert host.check_output("systemctl show -P MainPID ssh") == sshd_pid  # reloaded, not restarted
    finally:
        proc = run_playbook("converge.yml", limit=name)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert handlers_run(proc.stdout) == {"Check sshd config", "Reload sshd"}, proc.stdout[-4000:]
    assert "hmac-sha2-256-etm@openssh.com" in host.check_output("sshd -T")


def test_tags_of_one_concern_write_only_its_files(host):
    """--tags linux_base_ssh writes the sshd drop-in and no other concern's file (journald's here)."""
    name = host.backend.get_hostname()
    extra = '{"linux_base_ssh_macs": ["hmac-sha2-512-etm@openssh.com"], "linux_base_journald_system_max_use": "150M"}'
    proc = run_playbook("converge.yml", "--tags", "linux_base_ssh", "-e", extra, limit=name)
    try:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert recap(proc.stdout)[name]["changed"] == 2, proc.stdout[-4000:]  # the files task and the reload
        assert handlers_run(proc.stdout) == {"Check sshd config", "Reload sshd"}, proc.stdout[-4000:]
        assert "macs hmac-sha2-512-etm@openssh.com" in host.check_output("sshd -T")
        assert "SystemMaxUse=200M" in host.file("/etc/systemd/journald.conf.d/60-foobar-webstack.conf").content_string
    finally:
        proc = run_playbook("converge.yml", limit=name)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "hmac-sha2-256-etm@openssh.com" in host.check_output("sshd -T")


RULES = "nft list table inet foobar_webstack"
DROPIN = "/etc/ssh/sshd_config.d/10-foobar-webstack.conf"
SNTRUP = "sntrup761x25519-sha512@openssh.com"


def offers_kex(host, kex):
    """Whether the running sshd (not its files) negotiates this key exchange (auth fails either way)."""
    res = host.run(f"ssh {SSH_OPTS} -o KexAlgorithms={kex} nobody@127.0.0.1 true")
    return "no matching key exchange method" not in res.stderr


def test_firewall_fails_closed(host):
    """A broken ruleset never replaces the loaded rules; stopping or restarting the unit never opens
    the host; at boot (no table yet) a broken ruleset leaves default-deny with SSH."""
    broken = f"{DROPINS}/91-broken.nft"
    before = host.check_output(RULES)
    try:
        host.check_output(f"echo 'tcp dport 9997 acept' > {broken}")  # written by hand, past the checker
        assert host.run("systemctl reload foobar-webstack-firewall").rc != 0
        assert host.check_output(RULES) == before  # the rules that were running stay
        host.run("systemctl stop foobar-webstack-firewall")
        assert host.check_output(RULES) == before  # stop keeps the rules
        # As at boot: no table, the real ruleset cannot load.
        host.check_output("nft delete table inet foobar_webstack")
        assert host.run("systemctl restart foobar-webstack-firewall").rc != 0
        fallback = host.check_output(RULES)
        assert "policy drop;" in fallback and "tcp dport 22 accept" in fallback
        assert "80" not in fallback and "9997" not in fallback
    finally:
        host.run(f"rm -f {broken}")
        host.run("systemctl reset-failed foobar-webstack-firewall; systemctl restart foobar-webstack-firewall")
    assert host.check_output(RULES) == before
    assert_running(host, "foobar-webstack-firewall")


def test_rules_changed_by_hand_are_put_back(host):
    """Loaded rules that differ from the ruleset on disk: the next run loads it again and says so."""
    name = host.backend.get_hostname()
    before = host.check_output(RULES)
    host.check_output("nft flush chain inet foobar_webstack input")
    assert "tcp dport" not in host.check_output(RULES)
    proc = run_playbook("converge.yml", limit=name)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert recap(proc.stdout)[name]["changed"] == 1, proc.stdout[-4000:]
    assert "Firewall | Load the ruleset again" in proc.stdout
    assert host.check_output(RULES) == before


def test_sshd_settings_on_disk_but_not_in_force_are_applied(host):
    """The drop-in already says what the role wants but sshd never read it (edited by hand, or a run
    that failed before its handlers): the run reloads sshd and reports the change."""
    name = host.backend.get_hostname()
    extra = '{"linux_base_ssh_kex_algorithms": ["curve25519-sha256"]}'
    assert offers_kex(host, SNTRUP)
    try:
        host.check_output(f"sed -i 's/^KexAlgorithms .*/KexAlgorithms curve25519-sha256/' {DROPIN}")
        assert offers_kex(host, SNTRUP)  # not reloaded: the running daemon still offers it
        proc = run_playbook("converge.yml", "-e", extra, limit=name)
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert recap(proc.stdout)[name]["changed"] == 1, proc.stdout[-4000:]  # the reload, no file
        assert "Ssh | Reload sshd, it does not run the configuration on disk" in proc.stdout
        assert not offers_kex(host, SNTRUP)
        again = run_playbook("converge.yml", "-e", extra, limit=name)
        assert recap(again.stdout)[name]["changed"] == 0, again.stdout[-4000:]
    finally:
        proc = run_playbook("converge.yml", limit=name)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert offers_kex(host, SNTRUP)


def test_hardening_applies_although_a_later_task_fails(host):
    """A run that changes sshd and then fails (an admin's key is rejected) still has sshd running the
    new settings: the handlers run right after the files, not at the end of the play."""
    name = host.backend.get_hostname()
    key = host.file("/root/test_admin_key.pub").content_string.strip()
    users = [{"name": "alice", "ssh_keys": [key]}, {"name": "carol", "ssh_keys": ["garbage-not-a-key"]}]
    extra = json.dumps({"linux_base_ssh_kex_algorithms": ["curve25519-sha256"], "linux_base_admin_users": users})
    try:
        proc = run_playbook("converge.yml", "-e", extra, limit=name)
        assert proc.returncode != 0, proc.stdout[-3000:]
        assert "invalid key specified" in proc.stdout + proc.stderr, proc.stdout[-3000:]
        assert not offers_kex(host, SNTRUP)  # in force although the run failed after writing it
    finally:
        host.run("userdel -r carol")
        proc = run_playbook("converge.yml", limit=name)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert offers_kex(host, SNTRUP)


def test_unattended_upgrades_off_removes_them(host):
    name = host.backend.get_hostname()
    try:
        proc = run_playbook("converge.yml", "-e", '{"linux_base_unattended_upgrades_enabled": false}', limit=name)
        assert proc.returncode == 0, proc.stdout[-3000:]
        # The periodic run is off; the package's own 50unattended-upgrades (its default origins) stays.
        dump = host.check_output("apt-config dump")
        confs = host.check_output("grep -rl 'Unattended-Upgrade' /etc/apt/apt.conf.d/ || true")
        assert 'APT::Periodic::Unattended-Upgrade "1";' not in dump, (confs, proc.stdout[-4000:])
        assert not host.file("/etc/apt/apt.conf.d/52foobar-webstack-unattended-upgrades").exists
    finally:
        proc = run_playbook("converge.yml", limit=name)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'APT::Periodic::Unattended-Upgrade "1";' in host.check_output("apt-config dump")


def test_check_mode_is_clean(host):
    assert_check_mode_clean(host)
