"""python_app's release cycle on both hosts: deploys, rollbacks, broken releases, git sources, pruning.

Runs after test_python_app.py (pytest takes the files in name order), on the converged hosts. Every
step is one ansible-playbook over both hosts at once (the two releases side by side, one start-up
instead of two), and each test then checks every host on its own; the steps build on each other in
the order below, as an operator's deploys would.
"""

import json

from conftest import app_copy, assert_both_releases, host_output, name_of, recap, run_playbook, task_results
from test_python_app import current_release, get, sql, status

GIT = ["-e", "python_app_source=git", "-e", "python_app_git_repo=/srv/git/foobar.git"]


def previous_release(host):
    return host.file("/srv/foobar/previous").linked_to


def rows(hosts):
    return {name_of(h): sql(h, "SELECT COUNT(*) FROM messages") for h in hosts}


def deploy(version, source_dir=None, extra=()):
    """deploy.yml on every host of the scenario."""
    args = ["-e", f"python_app_version={version}", *extra]
    if source_dir:
        args += ["-e", "python_app_source=dir", "-e", f"python_app_source_path={source_dir}"]
    return run_playbook("deploy.yml", *args)


def rollback():
    return run_playbook("rollback.yml", "-e", "webstack_rollback_hosts=all")


def failed_on(proc, host):
    """The run failed on this host: its recap counts a failure and its own output says why."""
    counts = recap(proc.stdout).get(name_of(host), {})
    return counts.get("failed", 0) >= 1, host_output(proc.stdout + proc.stderr, name_of(host))


def test_deploy_new_version_keeps_rows(hosts, tmp_path):
    before = rows(hosts)
    proc = deploy("1.1.0", app_copy(tmp_path, "1.1.0"))
    assert proc.returncode == 0, proc.stdout[-3000:]
    # Same pinned requirements: the new release links the venv 1.0.0 was built with, pip never ran.
    pip = task_results(proc.stdout, "Install the pinned requirements into the venv")
    for host in hosts:
        name = name_of(host)
        assert current_release(host) == "/srv/foobar/releases/1.1.0", name
        assert previous_release(host) == "/srv/foobar/releases/1.0.0", name
        assert "app 1.1.0" in get(host).stdout, name
        assert sql(host, "SELECT COUNT(*) FROM messages") == before[name], name
        venv = host.file("/srv/foobar/releases/1.1.0/venv")
        assert venv.is_symlink and venv.linked_to == host.file("/srv/foobar/releases/1.0.0/venv").linked_to, name
        assert venv.linked_to.startswith("/srv/foobar/venvs/"), name
        assert pip.get(name) == ["skipping"], (name, pip, proc.stdout[-3000:])


def test_rollback_returns_to_previous_release(hosts):
    proc = rollback()
    assert proc.returncode == 0, proc.stdout[-3000:]
    for host in hosts:
        assert current_release(host) == "/srv/foobar/releases/1.0.0", name_of(host)
        assert "app 1.0.0" in get(host).stdout, name_of(host)


def test_broken_release_rolls_back_automatically(hosts, tmp_path):
    """The deploy state survives the failure: current and previous are exactly as before the run, the
    restored release is health-checked (and the message says so), the failed one is marked and kept."""
    before = rows(hosts)
    previous = {}
    for host in hosts:
        previous[name_of(host)] = previous_release(host)
        assert current_release(host) == "/srv/foobar/releases/1.0.0", name_of(host)
        assert previous[name_of(host)] == "/srv/foobar/releases/1.1.0", name_of(host)
    proc = deploy("1.2.0-broken", app_copy(tmp_path, "1.2.0-broken", broken=True),
                  extra=["-e", "python_app_health_timeout=6"])
    assert proc.returncode != 0
    for host in hosts:
        name = name_of(host)
        failed, said = failed_on(proc, host)  # ansible-core prints the failure on stderr
        assert failed and "ROLLED BACK" in said and "HEALTHY again" in said, (name, said[-3000:])
        assert current_release(host) == "/srv/foobar/releases/1.0.0", name
        assert previous_release(host) == previous[name], name  # untouched by the failed deploy
        assert host.file("/srv/foobar/releases/1.2.0-broken").is_directory, name  # kept for analysis
        mark = host.file("/srv/foobar/releases/1.2.0-broken/.foobar-webstack-failed").content_string
        assert "failed its health check" in mark, name
        assert status(host, "/healthz") == "200", name
        assert sql(host, "SELECT COUNT(*) FROM messages") == before[name], name


def test_rollback_after_a_failed_deploy_goes_to_the_release_before(hosts):
    """Before the fix, a failed deploy left previous == current and this rollback "succeeded" in place."""
    proc = rollback()
    assert proc.returncode == 0, proc.stdout[-3000:]
    for host in hosts:
        assert current_release(host) == "/srv/foobar/releases/1.1.0", name_of(host)
        assert previous_release(host) == "/srv/foobar/releases/1.0.0", name_of(host)
        assert "app 1.1.0" in get(host).stdout, name_of(host)


def test_failed_migration_leaves_the_running_release_untouched(hosts, tmp_path):
    before = {name_of(h): current_release(h) for h in hosts}
    counts = rows(hosts)
    proc = deploy("1.3.0-badmigration", app_copy(tmp_path, "1.3.0-badmigration", bad_migration=True))
    assert proc.returncode != 0
    migrate = task_results(proc.stdout + proc.stderr, "Migrate | Run the migrations of the new release")
    for host in hosts:
        name = name_of(host)
        failed, said = failed_on(proc, host)
        assert failed and "fatal" in migrate.get(name, []), (name, migrate, said[-3000:])
        assert current_release(host) == before[name], name
        assert sql(host, "SELECT COUNT(*) FROM schema_migrations WHERE name = '0099_broken.sql'") == "0", name
        assert sql(host, "SELECT COUNT(*) FROM messages") == counts[name], name
        assert status(host, "/healthz") == "200", name


def test_deploy_from_git(hosts):
    proc = deploy("git-1", extra=GIT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    for host in hosts:
        assert current_release(host) == "/srv/foobar/releases/git-1", name_of(host)
        assert host.file("/srv/foobar/releases/git-1/.git").is_directory, name_of(host)
        assert status(host, "/healthz") == "200", name_of(host)
    again = deploy("git-1", extra=GIT)
    for host in hosts:
        assert recap(again.stdout)[name_of(host)]["changed"] == 0, again.stdout[-3000:]


def test_requirements_are_installed_by_the_app_user(hosts, tmp_path):
    """pip runs as the app's user, not root: a requirements file that pulls in one only root may read
    makes the build fail with pip's permission error, and the release in service stays."""
    before = {name_of(h): current_release(h) for h in hosts}
    for host in hosts:
        host.check_output("install -m 0600 /dev/null /root/root-only-requirements.txt"
                          " && echo 'PyMySQL==1.1.1' > /root/root-only-requirements.txt")
    source = app_copy(tmp_path, "1.4.0-rootreq")
    with open(source / "requirements.txt", "a", encoding="utf-8") as handle:
        handle.write("-r /root/root-only-requirements.txt\n")
    proc = deploy("1.4.0-rootreq", source)
    assert proc.returncode != 0, proc.stdout[-3000:]
    pip = task_results(proc.stdout + proc.stderr, "Install the pinned requirements into the venv")
    for host in hosts:
        name = name_of(host)
        failed, said = failed_on(proc, host)
        assert failed and pip.get(name) == ["fatal"] and "Permission denied" in said, (name, pip, said[-3000:])
        assert current_release(host) == before[name], name
        assert status(host, "/healthz") == "200", name


def test_migrations_run_as_the_app_user(hosts):
    command = "/bin/sh -c 'id -un > /tmp/migrate-user && exec {venv}/bin/python -m foobar_app.migrate'"
    proc = deploy("git-1", extra=[*GIT, "-e", json.dumps({"python_app_migrate_command": command})])
    assert proc.returncode == 0, proc.stdout[-3000:]
    for host in hosts:
        assert host.file("/tmp/migrate-user").content_string.strip() == "foobar", name_of(host)


def test_prune_keeps_the_release_in_service_the_one_before_and_failed_ones(hosts):
    """With python_app_releases_keep 2, the oldest good release goes; the release in service, the one
    rollback.yml would go to, and the failed release kept for analysis stay."""
    previous = {name_of(h): previous_release(h) for h in hosts}
    proc = deploy("git-1", extra=[*GIT, "-e", "python_app_releases_keep=2"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    for host in hosts:
        name = name_of(host)
        left = set(host.check_output("ls /srv/foobar/releases").split())
        assert {"git-1", previous[name].rsplit("/", 1)[1], "1.2.0-broken"} <= left, (name, left)
        assert "1.0.0" not in left, (name, left)


def test_every_release_step_ran_on_both_releases(hosts):
    assert_both_releases(hosts)

