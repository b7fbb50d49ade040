"""nginx on a systemd container: the promises both fronts keep (molecule/front_promises.py), and
what is nginx's own: the HTTP/2 syntax of each release, the workers, the body limit, the checked
hook that refuses a broken snippet while the site keeps serving."""

import json

import pytest

from conftest import name_of, recap, run_playbook
from front_promises import *  # noqa: F401,F403  (the shared tests are collected from here)
from front_promises import CURL, SITE, request

NGINX = {
    "service": "nginx",
    "process": "nginx",
    "server": "nginx",
    "page": "nginx",
    "status_text": "Active connections:",
    "extra_header": "nginx_server_extra_config",
}
HOOK = f"/etc/nginx/foobar-webstack/{SITE}.d"
CHECKER = "/usr/local/sbin/foobar-webstack-nginx-configtest"


@pytest.fixture(scope="module")
def front():
    return NGINX


def test_http2_syntax_of_the_installed_release(host):
    """nginx 1.22 (Debian 12) takes `listen ... http2`; 1.26 (Debian 13) `http2 on`, where the old
    form is deprecated: the configuration uses the installed release's, and nginx -t warns of nothing."""
    version = host.check_output("dpkg-query -W -f '${Version}' nginx")
    site = host.file("/etc/nginx/sites-available/foobar-webstack").content_string
    if version.startswith("1.22."):
        assert "listen 443 ssl http2 default_server;" in site and "http2 on;" not in site
    else:
        assert "http2 on;" in site and " http2" not in site.replace("http2 on;", "")
    out = host.run("nginx -t")
    assert out.rc == 0 and "[warn]" not in out.stderr and "[emerg]" not in out.stderr, out.stderr


def test_workers_follow_the_cores(host):
    cores = int(host.check_output("nproc"))
    workers = host.check_output("grep -la '^nginx: worker process' /proc/[0-9]*/cmdline | wc -l")
    assert int(workers) == cores
    conf = host.file("/etc/nginx/nginx.conf").content_string
    assert "worker_processes auto;" in conf and "worker_connections 1024;" in conf
    assert "worker_rlimit_nofile 2048;" in conf


def test_request_body_over_the_limit_gets_413(host):
    """nginx_client_max_body_size (1m by default) refuses a larger body before any backend sees it."""
    for protocol in ("--http1.1", "--http2"):
        out = host.check_output(
            f"head -c 2000000 /dev/zero | {CURL} {protocol} -o /dev/null -w '%{{http_code}}' "
            f"--data-binary @- https://{SITE}/app/hello.txt"
        )
        assert out == "413", f"{protocol}: {out}"


def test_configuration_layout(host):
    assert host.run("nginx -t -q").rc == 0
    assert host.check_output("ls /etc/nginx/sites-enabled").split() == ["foobar-webstack"]
    assert host.file("/etc/nginx/sites-enabled/foobar-webstack").linked_to == "/etc/nginx/sites-available/foobar-webstack"
    assert host.file("/etc/nginx/sites-available/default").exists  # Debian's, unlinked, not deleted
    conf = host.file("/etc/nginx/conf.d/foobar-webstack.conf").content_string
    assert "server_tokens off;" in conf and "ssl_protocols TLSv1.2 TLSv1.3;" in conf and "gzip_proxied any;" in conf
    assert "set_real_ip_from" not in conf  # no load balancer trusted by default


def test_checker_refuses_a_broken_snippet_and_the_site_keeps_serving(host):
    """What a hook does: a broken candidate is refused by the checker with nginx's message (live
    paths), nothing is written, a reload is never tried, and the site serves as before."""
    before = host.check_output(f"ls {HOOK}")
    master = host.check_output("cat /run/nginx.pid")
    candidate = "/tmp/broken-snippet.conf"
    host.check_output(f"printf 'location /broken/ {{\\n    no_such_directive on;\\n}}\\n' > {candidate}")
    res = host.run(f"{CHECKER} {candidate} {HOOK}/60-broken.conf")
    assert res.rc == 1, res.stdout + res.stderr
    assert 'unknown directive "no_such_directive"' in res.stderr and f"{HOOK}/60-broken.conf" in res.stderr
    assert "/tmp/" not in res.stderr  # the staging copy's paths are shown as the live ones
    assert host.check_output(f"ls {HOOK}") == before
    # A good candidate passes; the live configuration is untouched either way.
    host.check_output(f"printf 'location /fine/ {{\\n    return 204;\\n}}\\n' > {candidate}")
    assert host.run(f"{CHECKER} {candidate} {HOOK}/60-fine.conf").rc == 0
    assert host.check_output(f"ls {HOOK}") == before
    assert host.run("nginx -t -q").rc == 0
    assert host.check_output("cat /run/nginx.pid") == master
    status, _, body = request(host, f"https://{SITE}/app/hello.txt")
    assert status == 200 and body == "hello from the backend\n"


def test_broken_extra_config_is_refused_and_the_site_keeps_serving(host):
    """The role itself: a broken nginx_server_extra_config fails the run with nginx's reason, is not
    written, nginx is not reloaded, and the site serves its running configuration."""
    extra = f"{HOOK}/10-nginx-server-extra.conf"
    before = host.file(extra).content_string
    master = host.check_output("cat /run/nginx.pid")
    proc = run_playbook(
        "converge.yml", "-e", json.dumps({"nginx_server_extra_config": "no_such_directive on;"}), limit=name_of(host)
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert "nginx_server_extra_config was rejected" in output, output[-3000:]
    assert "unknown directive" in output and "no_such_directive" in output, output[-3000:]
    assert recap(proc.stdout)[name_of(host)]["failed"] == 1
    assert host.file(extra).content_string == before
    assert host.check_output("cat /run/nginx.pid") == master
    _, headers, _ = request(host, f"https://{SITE}/")
    assert headers.get("x-webstack-extra") == ["nginx_server_extra_config"]
