"""site.yml refuses bad input before it changes anything on any host.

Each case runs site.yml on the fresh host webstack-invalid-site (in the web and dns groups) with one
bad value: the run fails in its validation play, the message names the variable the user set and
shows the bad value, and the installed packages and every file under /etc are exactly as before.
"""

import json

import pytest

from conftest import recap, run_playbook, scenario_host

HOST = "webstack-invalid-site"

# (extra vars, text the failure must contain)
CASES = [
    ({"webstack_domain": "www.foo_bar.com"}, "webstack_domain"),
    ({"webstack_app_name": "Bad Name"}, "webstack_app_name 'Bad Name'"),
    ({"python_app_workers": -3}, "python_app_workers is -3"),
    ({"apache_firewall_sources": ["10.0.0.300"]}, "apache_firewall_sources"),
    ({"mysql_users": [{"name": "app"}]}, 'no password for "app"'),
    ({"linux_base_firewall_allowed_tcp_ports": [70000]}, "linux_base_firewall_allowed_tcp_ports"),
    ({"dns_record_ttl": -1}, "dns_record_ttl"),
    # The front: an unknown one, and nginx's own checks when it is the front.
    ({"webstack_web_server": "lighttpd"}, "webstack_web_server 'lighttpd' is not a front"),
    ({"nginx_tls_cert_path": "/etc/ssl/certs/site.pem", "webstack_web_server": "nginx"}, "nginx_tls_cert_path with nginx_tls_key_path"),
    ({"nginx_https_port": 70000, "webstack_web_server": "nginx"}, "nginx_https_port (70000)"),
    ({"nginx_server_name": "localhost", "webstack_web_server": "nginx"}, "nginx_server_name 'localhost' is not a valid domain"),
]


@pytest.fixture(scope="module")
def host():
    return scenario_host(HOST)


def snapshot(host):
    """What a run must not touch: the package database and every path under /etc with size and mtime."""
    packages = host.check_output("dpkg-query -W -f '${Package} ${Version} ${db:Status-Status}\\n' | sort | sha256sum")
    etc = host.check_output(
        "find /etc -xdev \\( -type f -o -type l -o -type d \\) -printf '%p %s %T@ %m %u\\n' | sort | sha256sum"
    )
    return packages, etc


@pytest.mark.parametrize("extra, expected", CASES, ids=[next(iter(c[0])) for c in CASES])
def test_bad_input_stops_the_run_before_any_change(host, extra, expected):
    before = snapshot(host)
    proc = run_playbook("site.yml", "-e", json.dumps(extra), limit=HOST)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert expected in output, output[-3000:]
    assert "Validate every input before any host changes" in output
    # The run ended in the validation play: no role's play began.
    assert "PLAY [Base every host]" not in output, output[-3000:]
    assert recap(proc.stdout)[HOST]["changed"] == 0
    assert snapshot(host) == before, "the host changed although the input was refused"
