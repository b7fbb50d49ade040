"""linux_base on a systemd container: what a converged host must do, checked by behaviour."""

import socket
import time

from conftest import assert_check_mode_clean, assert_running

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


RULES = "nft list table inet foobar_webstack"


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


def test_check_mode_is_clean(host):
    assert_check_mode_clean(host)
