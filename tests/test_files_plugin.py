"""foobar.webstack.files: the module on a scratch directory, and the action plugin through a real
ansible-playbook run on localhost (templates rendered, check mode, validation refusing a file)."""

import importlib.util
import json
import os
import pathlib
import stat
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
_SPEC = importlib.util.spec_from_file_location("webstack_files_module", ROOT / "plugins" / "modules" / "files.py")
files_module = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(files_module)


class FakeModule:
    def __init__(self, check_mode=False, diff=True):
        self.check_mode = check_mode
        self._diff = diff

    def run_command(self, command):
        proc = subprocess.run(command, shell=True, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr


def entry(**kwargs):
    base = {key: spec.get("default") for key, spec in files_module.ENTRY_SPEC.items()}
    base.update(kwargs)
    return base


def apply(entries, check_mode=False):
    applier = files_module.Applier(FakeModule(check_mode=check_mode))
    for item in entries:
        applier.apply(item)
    return applier


def test_creates_then_changes_nothing(tmp_path):
    wanted = [
        entry(path=str(tmp_path / "d"), state="directory", mode="0750"),
        entry(path=str(tmp_path / "d" / "f.conf"), content="a=1\n", mode="0640"),
        entry(path=str(tmp_path / "d" / "l"), state="link", src="f.conf"),
    ]
    first = apply(wanted)
    assert first.changed_paths == [e["path"] for e in wanted]
    assert (tmp_path / "d" / "f.conf").read_text() == "a=1\n"
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "d" / "f.conf").stat().st_mode) == 0o640
    assert os.readlink(tmp_path / "d" / "l") == "f.conf"
    assert apply(wanted).changed_paths == []


def test_check_mode_reports_without_writing(tmp_path):
    target = tmp_path / "f"
    target.write_text("old\n")
    wanted = [entry(path=str(tmp_path / "new"), state="directory"),
              entry(path=str(tmp_path / "new" / "x"), content="x\n"),
              entry(path=str(target), content="new\n")]
    applier = apply(wanted, check_mode=True)
    assert applier.changed_paths == [e["path"] for e in wanted]
    assert target.read_text() == "old\n"
    assert not (tmp_path / "new").exists()
    assert applier.diffs[2]["before"] == "old\n" and applier.diffs[2]["after"] == "new\n"


def test_secret_content_never_in_a_diff(tmp_path):
    """A secret entry's content is hidden from the diff even where diff is left on; a plain one shows."""
    (tmp_path / "key").write_text("old-Zq81xv\n")
    (tmp_path / "conf").write_text("old\n")
    applier = apply([entry(path=str(tmp_path / "key"), content="new-Wy27kp\n", secret=True),
                     entry(path=str(tmp_path / "conf"), content="new\n")])
    assert applier.changed_paths == [str(tmp_path / "key"), str(tmp_path / "conf")]
    text = repr(applier.diffs)
    assert "Zq81xv" not in text and "Wy27kp" not in text and "(content hidden" in text
    assert applier.diffs[1]["after"] == "new\n"


def test_module_never_logs_its_arguments_on_the_host(monkeypatch):
    """AnsibleModule logs every argument to the host's journal unless no_log: the contents would go there."""
    seen = {}

    class Stop(Exception):
        pass

    def fake(**kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(files_module, "AnsibleModule", fake)
    with pytest.raises(Stop):
        files_module.main()
    assert seen["no_log"] is True


def test_mode_only_change_keeps_content(tmp_path):
    target = tmp_path / "f"
    target.write_text("same\n")
    target.chmod(0o666)
    assert apply([entry(path=str(target), content="same\n", mode="0600")]).changed_paths == [str(target)]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_text() == "same\n"


def test_force_false_never_rewrites(tmp_path):
    secret = tmp_path / "secret"
    apply([entry(path=str(secret), content="first", force=False, mode="0600")])
    assert apply([entry(path=str(secret), content="second", force=False, mode="0600")]).changed_paths == []
    assert secret.read_text() == "first"


def test_failed_validation_leaves_the_file_and_no_temporary(tmp_path):
    target = tmp_path / "f"
    target.write_text("good\n")
    with pytest.raises(files_module.EntryError, match="was not written"):
        apply([entry(path=str(target), content="bad\n", validate="grep -q good %s")])
    assert target.read_text() == "good\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
    apply([entry(path=str(target), content="good too\n", validate="grep -q good %s")])
    assert target.read_text() == "good too\n"


def test_absent_and_refusals(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "gone").write_text("x")
    assert apply([entry(path=str(tmp_path / "gone"), state="absent")]).changed_paths == [str(tmp_path / "gone")]
    assert not (tmp_path / "gone").exists()
    with pytest.raises(files_module.EntryError, match="not empty"):
        apply([entry(path=str(tmp_path / "full"), state="absent")])
    with pytest.raises(files_module.EntryError, match="parent directory does not exist"):
        apply([entry(path=str(tmp_path / "missing" / "f"), content="x")])
    with pytest.raises(files_module.EntryError, match="octal"):
        apply([entry(path=str(tmp_path / "f"), content="x", mode="rw-r--r--")])
    with pytest.raises(files_module.EntryError, match="does not exist on the host"):
        apply([entry(path=str(tmp_path / "f"), content="x", owner="no-such-user-here")])


def test_link_replaces_a_wrong_link(tmp_path):
    link = tmp_path / "l"
    link.symlink_to("old")
    assert apply([entry(path=str(link), state="link", src="new")]).changed_paths == [str(link)]
    assert os.readlink(link) == "new"


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Files
      foobar.webstack.files:
        files:
          - {path: "{{ out }}", state: directory}
          - {path: "{{ out }}/site.conf", template: site.conf.j2, mode: "0644", validate: "grep -q '^port=' %s"}
          - {path: "{{ out }}/app", tree: app, mode: preserve}
      register: result
    - name: Show
      ansible.builtin.debug:
        msg: "RESULT {{ result.changed_paths | to_json }}"
"""


def playbook(tmp_path, *args):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
               ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"out={tmp_path / 'out'}", *args,
         str(tmp_path / "pb.yml")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300, check=False)
    return proc


def changed(proc):
    for line in proc.stdout.splitlines():
        if "RESULT " in line:
            return json.loads(line.split("RESULT ", 1)[1].strip().strip("'\""))
    raise AssertionError(proc.stdout + proc.stderr)


def test_action_plugin_renders_copies_and_validates(tmp_path):
    if not (ROOT / ".collections" / "ansible_collections" / "foobar" / "webstack").exists():
        pytest.skip("the collection link is made by scripts/venv.sh")
    (tmp_path / "pb.yml").write_text(PLAYBOOK)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "site.conf.j2").write_text("{{ ansible_managed | comment }}\nport={{ port }}\n")
    app = tmp_path / "files" / "app"
    (app / "pkg" / "__pycache__").mkdir(parents=True)
    (app / "pkg" / "run.sh").write_text("#!/bin/sh\n")
    (app / "pkg" / "run.sh").chmod(0o755)
    (app / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (app / "blob.bin").write_bytes(b"\xff\xfe\0binary")

    first = playbook(tmp_path, "-e", "port=80")
    assert first.returncode == 0, first.stdout + first.stderr
    out = tmp_path / "out"
    assert (out / "site.conf").read_text() == "#\n# Ansible managed\n#\nport=80\n"
    assert (out / "app" / "blob.bin").read_bytes() == b"\xff\xfe\0binary"
    assert stat.S_IMODE((out / "app" / "pkg" / "run.sh").stat().st_mode) == 0o755
    assert not (out / "app" / "pkg" / "__pycache__").exists()

    assert changed(playbook(tmp_path, "-e", "port=80")) == []
    check = playbook(tmp_path, "-e", "port=81", "--check", "--diff")
    assert changed(check) == [str(out / "site.conf")] and "+port=81" in check.stdout
    assert (out / "site.conf").read_text().endswith("port=80\n")

    (tmp_path / "templates" / "site.conf.j2").write_text("broken\n")
    refused = playbook(tmp_path)
    assert refused.returncode != 0 and "was not written" in refused.stdout + refused.stderr
    assert (out / "site.conf").read_text().endswith("port=80\n")


def test_tree_copies_links_as_links_and_normalises_modes(tmp_path):
    """A tree's symbolic links are copied as links, never followed (a link to a credentials file
    stays a link, a linked directory is not dropped); preserved modes lose setuid and world-write; a
    link out of the tree is refused with a message."""
    if not (ROOT / ".collections" / "ansible_collections" / "foobar" / "webstack").exists():
        pytest.skip("the collection link is made by scripts/venv.sh")
    (tmp_path / "pb.yml").write_text(PLAYBOOK)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "site.conf.j2").write_text("port=1\n")
    app = tmp_path / "files" / "app"
    (app / "conf").mkdir(parents=True)
    (app / "conf" / "settings.ini").write_text("[app]\n")
    (app / "settings.ini").symlink_to("conf/settings.ini")
    (app / "etc").symlink_to("conf")
    (app / "tool").write_text("#!/bin/sh\n")
    (app / "tool").chmod(0o4757)
    first = playbook(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    out = tmp_path / "out" / "app"
    assert (out / "settings.ini").is_symlink() and os.readlink(out / "settings.ini") == "conf/settings.ini"
    assert (out / "etc").is_symlink() and os.readlink(out / "etc") == "conf"
    assert stat.S_IMODE((out / "tool").stat().st_mode) == 0o755
    assert changed(playbook(tmp_path)) == []

    secret = tmp_path / "credentials"
    secret.write_text("password=hunter2\n")
    (app / "leak").symlink_to(secret)
    refused = playbook(tmp_path)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "outside the tree" in output and "leak" in output, output
    assert not (out / "leak").exists() and "hunter2" not in output
