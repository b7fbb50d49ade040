"""The collection builds, installs from its tarball offline, and its playbooks resolve by FQCN."""

import re
import subprocess
import tarfile

import pytest
import yaml


def run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def tarball(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    run(["ansible-galaxy", "collection", "build", "--output-path", str(out), str(root)])
    (path,) = out.glob("foobar-webstack-*.tar.gz")
    return path


def test_tarball_keeps_out_dev_files(tarball):
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "galaxy.yml" not in names  # replaced by MANIFEST.json
    assert "MANIFEST.json" in names and "roles/linux_base/tasks/main.yml" in names
    leaked = [n for n in names if n.split("/")[0] in {".venv", ".cache", ".collections", "scripts", ".git", ".ci"}]
    assert not leaked, f"dev files in the tarball: {leaked[:10]}"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".log")]
    top = {n.split("/")[0] for n in names}
    allowed = {"roles", "plugins", "playbooks", "meta", "docs", "changelogs", "README.md", "CHANGELOG.rst",
               "MANIFEST.json", "FILES.json"}
    assert top <= allowed, f"not roles, plugins, playbooks, meta or docs: {sorted(top - allowed)}"


def test_galaxy_declares_every_collection_the_content_uses(root):
    """Every collection named by FQCN in roles, playbooks and plugins is a dependency, and no more."""
    used = set()
    for path in [*(root / "roles").rglob("*.yml"), *(root / "playbooks").rglob("*.yml"), *(root / "plugins").rglob("*.py")]:
        for namespace, name in re.findall(r"\b(ansible|community|containers)\.([a-z_]+)\.[a-z_]+", path.read_text(encoding="utf-8")):
            if (namespace, name) != ("ansible", "builtin"):
                used.add(f"{namespace}.{name}")
    used -= {"ansible.module_utils", "ansible.plugins", "ansible.errors", "ansible.template"}
    declared = set(yaml.safe_load((root / "galaxy.yml").read_text(encoding="utf-8"))["dependencies"])
    assert used == declared, f"used, not declared: {sorted(used - declared)}; declared, not used: {sorted(declared - used)}"


def test_tarball_installs_offline_and_resolves(tarball, tmp_path, root):
    dest = tmp_path / "collections"
    # --no-deps: the dependencies are the collections the `ansible` package bundles.
    run(["ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force", "-p", str(dest), str(tarball)])
    installed = dest / "ansible_collections" / "foobar" / "webstack"
    assert (installed / "roles" / "linux_base" / "meta" / "argument_specs.yml").is_file()
    env = {"ANSIBLE_COLLECTIONS_PATH": str(dest), "PATH": __import__("os").environ["PATH"], "HOME": str(tmp_path)}
    proc = run(["ansible-doc", "-t", "role", "-l", "foobar.webstack"], env=env, cwd=tmp_path)
    assert "foobar.webstack.linux_base" in proc.stdout
    proc = run(
        ["ansible-playbook", "--syntax-check", "-i", "localhost,", "foobar.webstack.site"], env=env, cwd=tmp_path
    )
