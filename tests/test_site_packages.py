"""playbooks/site.yml installs the web roles' packages in one apt transaction: its list must stay
equal to what the roles themselves install (mysql, the front, apache or nginx, with a self-signed
certificate, python_app)."""

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def role_vars(role):
    return yaml.safe_load((ROOT / "roles" / role / "vars" / "main.yml").read_text(encoding="utf-8"))


def site_web_packages():
    plays = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text(encoding="utf-8"))
    (play,) = [p for p in plays if "__site_web_packages" in p.get("vars", {})]
    expression = play["vars"]["__site_web_packages"]
    # The quoted names, without the keys of the fronts' packages ('nginx': [...]) and lookup('vars', ...).
    return re.findall(r"(?<!lookup\()'([a-z0-9][a-z0-9.+-]+)'(?!:)", expression)


def test_site_installs_exactly_the_web_roles_packages():
    wanted = (role_vars("mysql")["__mysql_packages"] + role_vars("apache")["__apache_packages"]
              + role_vars("apache")["__apache_selfsigned_packages"] + role_vars("nginx")["__nginx_packages"]
              + role_vars("nginx")["__nginx_selfsigned_packages"] + role_vars("python_app")["__python_app_packages"])
    assert sorted(set(site_web_packages())) == sorted(set(wanted))
