"""Roles compose only through documented contracts: exported facts and variables, never another
role's internals (its __<role>_ names, or the paths, services, users and commands it keeps as
internal constants) retyped."""

import re

import pytest
import yaml

from conftest import role_dirs

ROLES = role_dirs()
NAMES = [role.name for role in ROLES]
# What a role's behaviour is made of (its README may speak of the others).
SOURCES = ("tasks", "handlers", "templates", "vars", "defaults", "files")


def role_text(role, code_only=False):
    """The role's files; with code_only, without comment lines and without the app code it ships."""
    texts = {}
    for part in SOURCES:
        for path in (role / part).rglob("*"):
            if not path.is_file() or (code_only and path.suffix == ".py"):
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            if code_only:
                text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("#", "{#", ";")))
            texts[path] = text
    return texts


def internal_constants(role):
    """Literal values a role keeps for itself in vars/main.yml: paths, and its services, users,
    groups, sockets and commands."""
    data = yaml.safe_load((role / "vars" / "main.yml").read_text(encoding="utf-8")) or {}
    found = {}
    for key, value in data.items():
        if not isinstance(value, str) or "{{" in value or "{%" in value:
            continue
        kind = re.search(r"_(service|user|group|socket|command|configtest|check)$", key)
        # A path, not a pattern that happens to start with a slash (a URL regex both fronts share).
        if (re.fullmatch(r"/[\w./@+-]{5,}", value)) or (kind and len(value) >= 5):
            found[key] = value
    return found


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_uses_no_internal_name_of_another_role(role):
    others = [name for name in NAMES if name != role.name]
    pattern = re.compile(r"\b__(" + "|".join(map(re.escape, others)) + r")_[a-z0-9_]+")
    hits = [
        f"{path.relative_to(role)}: {match.group(0)}"
        for path, text in role_text(role).items()
        for match in pattern.finditer(text)
    ]
    assert not hits, f"{role.name} reaches into other roles' internals: {hits}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_retypes_no_internal_constant_of_another_role(role):
    texts = role_text(role, code_only=True)
    hits = []
    for other in ROLES:
        if other == role:
            continue
        for key, value in internal_constants(other).items():
            # A shared directory of the collection (/etc/foobar-webstack, and the certificates both fronts
            # use, /etc/ssl/foobar-webstack) and Debian's web server user are no single role's.
            if value.rstrip("/") in ("/etc/foobar-webstack", "/etc/ssl/foobar-webstack", "www-data"):
                continue
            for path, text in texts.items():
                if re.search(r"(?<![\w/.-])" + re.escape(value) + r"(?![\w/-])", text):
                    hits.append(f"{path.relative_to(role)}: {value} ({other.name}'s {key})")
    assert not hits, f"{role.name} retypes other roles' internals instead of reading their contract: {hits}"


def test_the_check_finds_a_retyped_constant(tmp_path):
    """The check above is not vacuous: the socket python_app used to retype is mysql's internal."""
    mysql = next(role for role in ROLES if role.name == "mysql")
    assert "/run/mysqld/mysqld.sock" in internal_constants(mysql).values()
    apache = next(role for role in ROLES if role.name == "apache")
    assert {"apache2", "www-data", "apache2ctl configtest"} <= set(internal_constants(apache).values())


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_exported_contract_is_documented(role):
    """Every fact a role exports with set_fact under its own prefix is listed in its README."""
    readme = (role / "README.md").read_text(encoding="utf-8")
    exported = set()
    for path in (role / "tasks").rglob("*.yml"):
        for task in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            facts = task.get("ansible.builtin.set_fact") or {}
            exported |= {name for name in facts if name.startswith(role.name + "_")}
    missing = sorted(name for name in exported if f"`{name}`" not in readme and f"`{name}." not in readme)
    assert not missing, f"{role.name} exports {missing} without documenting them in README.md"
