# -*- coding: utf-8 -*-
# Copyright: foobar.webstack developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of foobar.webstack.files: render templates, read controller files and expand
controller directories into content entries, then run the module once for all of them."""

from __future__ import annotations

import base64
import getpass
import os
import socket
import stat

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible_collections.foobar.webstack.plugins.modules.files import ENTRY_SPEC

try:  # ansible-core 2.19+: template text read from disk must be marked trusted to be rendered.
    from ansible.template import trust_as_template
except ImportError:  # older cores trust every string
    def trust_as_template(value):
        return value

# What an entry may carry for the module (its own argument spec) and what only the controller reads.
MODULE_KEYS = set(ENTRY_SPEC)
SOURCE_KEYS = {"template", "copy", "tree"}
SKIPPED_IN_TREES = {"__pycache__", ".git", ".pytest_cache", ".ruff_cache"}


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp

        entries = self._task.args.get("files")
        extra = set(self._task.args) - {"files"}
        if extra:
            raise AnsibleActionFail(f"unsupported parameters: {', '.join(sorted(extra))} (only 'files')")
        if not isinstance(entries, list):
            raise AnsibleActionFail("files must be a list of entries")

        module_entries = []
        for index, entry in enumerate(entries):
            module_entries.extend(self._expand(index, entry, task_vars))

        result.update(self._execute_module(
            module_name="foobar.webstack.files",
            module_args={"files": module_entries},
            task_vars=task_vars,
        ))
        # The module's echo of its arguments holds every file's content: not worth keeping.
        result.pop("invocation", None)
        return result

    # -- one entry of the task into one or more entries for the module ---------------------------
    def _expand(self, index, entry, task_vars):
        if not isinstance(entry, dict) or "path" not in entry:
            raise AnsibleActionFail(f"files[{index}] must be a mapping with a path")
        unknown = set(entry) - MODULE_KEYS - SOURCE_KEYS
        if unknown:
            raise AnsibleActionFail(f"files[{index}] ({entry['path']}): unknown keys {', '.join(sorted(unknown))}")
        sources = SOURCE_KEYS & {key for key, value in entry.items() if value is not None}
        if len(sources) > 1:
            raise AnsibleActionFail(f"files[{index}] ({entry['path']}): give one of template, copy, tree")
        base = {key: value for key, value in entry.items() if key in MODULE_KEYS}
        if not sources:
            return [base]
        source = sources.pop()
        try:
            if source == "template":
                return [self._render(base, entry["template"], task_vars)]
            if source == "copy":
                local = self._find_needle("files", entry["copy"])
                return [self._content_entry(base, local)]
            return self._tree(base, self._find_needle("files", entry["tree"]))
        except AnsibleError as exc:
            raise AnsibleActionFail(f"files[{index}] ({entry['path']}): {to_text(exc)}") from exc

    @staticmethod
    def _with_content(base, data):
        entry = dict(base, state="file")
        try:
            entry["content"] = data.decode("utf-8")
        except UnicodeDecodeError:
            entry["content_base64"] = base64.b64encode(data).decode("ascii")
        return entry

    def _content_entry(self, base, local):
        with open(local, "rb") as handle:
            data = handle.read()
        if base.get("mode") == "preserve":
            # The controller's mode without setuid, setgid, sticky and world-write bits: a tree copied
            # from a checkout must not plant a setuid binary or a file anyone may change. An entry
            # that wants such a bit names its mode.
            base = dict(base, mode="%04o" % (stat.S_IMODE(os.stat(local).st_mode) & ~0o7002))
        return self._with_content(base, data)

    @staticmethod
    def _tree_link(top, local_dir, current, name, dest_dir, dir_base):
        """A symbolic link inside a tree, copied as the same link, never followed. A link that leads
        out of the tree (absolute, or through ..) is refused: on the host it would reach a file the
        controller's tree never held."""
        local = os.path.join(current, name)
        target = os.readlink(local)
        inside = os.path.normpath(os.path.join(os.path.relpath(current, local_dir), target))
        if os.path.isabs(target) or inside == ".." or inside.startswith("../"):
            raise AnsibleActionFail(
                f"tree {local_dir}: {os.path.relpath(local, local_dir)} is a symbolic link to {target}, outside the"
                " tree; the tree copy does not follow links out of the tree (copy the file in, or make the link"
                " relative inside the tree)")
        return dict(dir_base, path=os.path.join(dest_dir, name), state="link", src=target)

    def _tree(self, base, local_dir):
        if not os.path.isdir(local_dir):
            raise AnsibleActionFail(f"tree {local_dir} is not a directory")
        top = base["path"].rstrip("/") or "/"
        dir_base = {key: base[key] for key in ("owner", "group") if base.get(key) is not None}
        entries = [dict(dir_base, path=top, state="directory", mode="0755")]
        for current, dirs, files in os.walk(local_dir):
            # os.walk lists a link to a directory among the directories and does not descend into it.
            links = sorted(n for n in dirs + files if os.path.islink(os.path.join(current, n)))
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_IN_TREES and d not in links)
            rel = os.path.relpath(current, local_dir)
            dest_dir = top if rel == "." else os.path.join(top, rel)
            if rel != ".":
                entries.append(dict(dir_base, path=dest_dir, state="directory", mode="0755"))
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")) or name in links:
                    continue
                entries.append(self._content_entry(dict(base, path=os.path.join(dest_dir, name)),
                                                   os.path.join(current, name)))
            entries.extend(self._tree_link(top, local_dir, current, name, dest_dir, dir_base) for name in links)
        return entries

    def _render(self, base, template, task_vars):
        source = self._find_needle("templates", template)
        searchpath = list(task_vars.get("ansible_search_path", []))
        searchpath.extend([self._loader._basedir, os.path.dirname(source)])
        searchpath = [p for path in searchpath for p in (os.path.join(path, "templates"), path)]
        variables = dict(task_vars)
        if "ansible_managed" not in variables:
            managed = C.config.get_config_value("DEFAULT_MANAGED_STR")
            variables["ansible_managed"] = managed.format(host=socket.gethostname(), uid=getpass.getuser(),
                                                          file=source)
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=variables)
        with open(source, "rb") as handle:
            text = trust_as_template(to_text(handle.read(), errors="surrogate_or_strict"))
        rendered = templar.template(
            text,
            escape_backslashes=False,
            overrides=dict(trim_blocks=True, lstrip_blocks=False, newline_sequence="\n"),
        )
        return self._with_content(base, to_text(rendered if rendered is not None else "").encode("utf-8"))
