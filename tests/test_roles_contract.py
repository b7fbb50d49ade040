"""Every role keeps the house contract: documented, validated, prefixed inputs."""

import re

import pytest
import yaml

from conftest import role_dirs

ROLES = role_dirs()


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def test_there_are_roles():
    assert ROLES, "no roles found under roles/"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_defaults_equal_argument_specs(role):
    """Spec keys equal defaults keys; a secret (no default) stands commented out as `# name:`."""
    text = (role / "defaults" / "main.yml").read_text(encoding="utf-8")
    defaults = set(load(role / "defaults" / "main.yml")) | set(re.findall(r"^# ([a-z0-9_]+):\s*$", text, re.M))
    spec = load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(defaults) == set(spec), (
        f"only in defaults: {sorted(set(defaults) - set(spec))}; only in argument_specs: {sorted(set(spec) - set(defaults))}"
    )


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_public_variables_are_prefixed(role):
    defaults = load(role / "defaults" / "main.yml")
    bad = [name for name in defaults if not name.startswith(role.name + "_")]
    assert not bad, f"variables not prefixed with {role.name}_: {bad}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_default_has_a_comment(role):
    lines = (role / "defaults" / "main.yml").read_text(encoding="utf-8").splitlines()
    missing = [
        line.split(":")[0]
        for i, line in enumerate(lines)
        if re.match(r"^[a-z_]+:", line) and not lines[i - 1].lstrip().startswith("#")
    ]
    assert not missing, f"defaults without a comment line above: {missing}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_spec_options_have_descriptions(role):
    spec = load(role / "meta" / "argument_specs.yml")["argument_specs"]
    for entry, body in spec.items():
        for name, option in (body.get("options") or {}).items():
            assert option.get("description"), f"{entry}.{name} has no description"
            assert option.get("type"), f"{entry}.{name} has no type"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_readme_documents_every_variable(role):
    readme = (role / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# foobar.webstack.{role.name}")
    defaults = load(role / "defaults" / "main.yml")
    text = (role / "defaults" / "main.yml").read_text(encoding="utf-8")
    names = set(defaults) | set(re.findall(r"^# ([a-z0-9_]+):\s*$", text, re.M))
    missing = [name for name in sorted(names) if f"`{name}`" not in readme]
    assert not missing, f"README of {role.name} does not document {missing}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_meta_has_no_role_dependencies(role):
    meta = load(role / "meta" / "main.yml")
    assert meta.get("dependencies") == [], "roles compose in playbooks, not through meta dependencies"
    assert meta["galaxy_info"].get("description")


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_templates_carry_ansible_managed(role):
    unmarked = [
        str(path.relative_to(role))
        for path in (role / "templates").rglob("*.j2")
        if "ansible_managed" not in path.read_text(encoding="utf-8")
    ]
    assert not unmarked, f"templates without an ansible_managed header: {unmarked}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_is_converged_by_a_scenario_with_tests(role, root):
    """Some Molecule scenario applies the role (by FQCN, or through site.yml, which applies it) and has
    testinfra tests."""
    site = (root / "playbooks" / "site.yml").read_text(encoding="utf-8")
    pattern = rf"foobar\.webstack\.{role.name}\b"
    covering = {
        playbook.parent.name
        for playbook in (root / "molecule").glob("*/*.yml")
        if (re.search(pattern, playbook.read_text(encoding="utf-8"))
            or ("import_playbook: ../../site.yml" in playbook.read_text(encoding="utf-8") and re.search(pattern, site)))
        and list((playbook.parent / "tests").glob("test_*.py"))
    }
    assert covering, f"no scenario with tests converges foobar.webstack.{role.name}"
