#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: foobar.webstack developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: files
short_description: Put a role's files, directories and links in place in one step
version_added: 1.0.0
description:
  - Brings a list of paths to the state each entry asks for (a file with given content, a directory, a
    symbolic link, or nothing), in order, and reports which paths changed.
  - One task and one module run for what would otherwise be a C(template), C(copy) or C(file) task per
    path, each costing one or two module runs. That is most of a role's time on a host where nothing
    changes.
  - The action plugin renders templates (C(template)), reads controller files (C(copy)) and expands
    controller directories (C(tree)) before the module runs, so the module only ever receives content.
  - A file entry with C(validate) is written to a temporary file next to its destination, checked with
    the command, and only then renamed into place; if the check fails, that path is left as it was and
    the task fails with the checker's output. Entries are applied in order, so an entry can rely on
    the ones before it (a directory, a link target, a file its checker reads).
  - Supports check mode and diff mode (one diff per changed path).
author: foobar.webstack developers
options:
  files:
    description: The entries, applied in the order given.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path on the host.
        type: path
        required: true
      state:
        description:
          - C(file) writes the content; C(directory) creates the directory (parents with mode 0755);
            C(link) makes a symbolic link to O(files[].src); C(absent) removes a file, a link or an empty
            directory.
        type: str
        choices: [file, directory, link, absent]
        default: file
      content:
        description: Text content of a C(file) entry.
        type: str
      content_base64:
        description: Content of a C(file) entry, base64-encoded (for files that are not text).
        type: str
      template:
        description:
          - Action plugin only. A Jinja2 template, looked up like C(ansible.builtin.template)'s C(src) (the
            role's C(templates/) first), rendered on the controller with the task's variables.
        type: str
      copy:
        description: Action plugin only. A controller file, looked up like C(ansible.builtin.copy)'s C(src).
        type: str
      tree:
        description:
          - Action plugin only. A controller directory whose whole content goes under O(files[].path), as
            a C(directory) entry for it and each subdirectory (mode 0755) and a C(file) entry for each
            file (O(files[].mode) C(preserve) keeps the controller's mode without its setuid, setgid,
            sticky and world-write bits).
          - Symbolic links are copied as the same links and never followed; a link that leads out of the
            tree (absolute, or through C(..)) is refused with a message.
        type: str
      src:
        description: Target of a C(link) entry, written as given (it may be relative).
        type: str
      owner:
        description: Owner name or uid. Unset keeps the owner of an existing path (root for a new one).
        type: str
      group:
        description: Group name or gid. Unset keeps the group of an existing path (root for a new one).
        type: str
      mode:
        description:
          - Octal mode as a string, such as C('0644'). Unset keeps the mode of an existing path; a new file
            gets 0644 and a new directory 0755. Ignored for links.
        type: str
      force:
        description:
          - For a C(file) entry, V(false) only creates the file when the path does not exist and never
            rewrites its content (generated secrets). Mode and ownership are still enforced.
        type: bool
        default: true
      validate:
        description: Command that checks the candidate file before it is put in place; C(%s) is its path.
        type: str
      unsafe_writes:
        description:
          - Write in place when the rename into place is impossible (a bind-mounted file such as a
            container's C(/etc/hostname) or C(/etc/hosts)).
        type: bool
        default: false
      diff:
        description: V(false) leaves this path's content out of the diff (the change is still reported).
        type: bool
        default: true
      secret:
        description:
          - V(true) marks the content as a secret (a key, a password file, an app's C(.env)), so that it never
            appears in a diff, whatever O(files[].diff) says. Give the task C(no_log) as well, so that the
            controller's output hides the entry too.
        type: bool
        default: false
notes:
  - The module never logs its arguments on the host, since they hold every file's content; the host's
    journal gets no C(Invoked with) line from it, with or without C(no_log) on the task.
  - Runs as one module, so a task with many entries costs one round trip to the host.
  - A parent directory must exist or be created by an earlier entry; nothing is created implicitly
    except the parents of a C(directory) entry.
"""

EXAMPLES = r"""
- name: Write the drop-ins and enable them
  foobar.webstack.files:
    files:
      - path: /etc/example.d
        state: directory
        mode: "0755"
      - path: /etc/example.d/10-ours.conf
        template: etc/example.d/10-ours.conf.j2
        mode: "0644"
        validate: example-checker %s
      - path: /etc/example.d/00-default.conf
        state: absent
  register: example_files
  notify: Reload example
"""

RETURN = r"""
changed_paths:
  description: The paths that changed (or would change in check mode), in the order of the entries.
  returned: always
  type: list
  elements: str
  sample: [/etc/example.d/10-ours.conf]
"""

import base64
import errno
import grp
import os
import pwd
import shlex
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

DIFF_MAX = 64 * 1024
ENTRY_SPEC = dict(
    path=dict(type="path", required=True),
    state=dict(type="str", default="file", choices=["file", "directory", "link", "absent"]),
    content=dict(type="str"),
    content_base64=dict(type="str"),
    src=dict(type="str"),
    owner=dict(type="str"),
    group=dict(type="str"),
    mode=dict(type="str"),
    force=dict(type="bool", default=True),
    validate=dict(type="str"),
    unsafe_writes=dict(type="bool", default=False),
    diff=dict(type="bool", default=True),
    secret=dict(type="bool", default=False),
)


class EntryError(Exception):
    pass


def lookup_id(name, kind):
    """uid/gid for a name or number; None when unset; KeyError when unknown."""
    if name is None:
        return None
    name = str(name)
    if name.isdigit():
        return int(name)
    return pwd.getpwnam(name).pw_uid if kind == "owner" else grp.getgrnam(name).gr_gid


def parse_mode(mode, path):
    if mode is None:
        return None
    text = str(mode)
    if not text.isdigit() or any(c not in "01234567" for c in text) or not 3 <= len(text) <= 5:
        raise EntryError(f"{path}: mode must be an octal string such as '0644', got '{text}'")
    return int(text, 8)


def lstat_or_none(path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def kind_of(st):
    if st is None:
        return "absent"
    if stat.S_ISLNK(st.st_mode):
        return "link"
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    if stat.S_ISREG(st.st_mode):
        return "file"
    return "special"


class Applier:
    def __init__(self, module):
        self.module = module
        self.check = module.check_mode
        self.changed_paths = []
        self.diffs = []
        # Paths that exist in check mode only because an earlier entry would create them.
        self.planned = set()

    # -- helpers -------------------------------------------------------------------------------
    def ids(self, entry):
        """(uid, gid, unknown): unknown is True when a name does not exist yet (check mode only)."""
        result = []
        for kind in ("owner", "group"):
            try:
                result.append(lookup_id(entry[kind], kind))
            except KeyError:
                if self.check:
                    return None, None, True
                raise EntryError(f"{entry['path']}: {kind} '{entry[kind]}' does not exist on the host")
        return result[0], result[1], False

    def parent_exists(self, path):
        parent = os.path.dirname(path)
        return os.path.isdir(parent) or parent in self.planned

    def attributes_differ(self, st, uid, gid, mode, is_link=False):
        diffs = {}
        if uid is not None and st.st_uid != uid:
            diffs["owner"] = (st.st_uid, uid)
        if gid is not None and st.st_gid != gid:
            diffs["group"] = (st.st_gid, gid)
        if mode is not None and not is_link and stat.S_IMODE(st.st_mode) != mode:
            diffs["mode"] = ("%04o" % stat.S_IMODE(st.st_mode), "%04o" % mode)
        return diffs

    def set_attributes(self, path, uid, gid, mode, is_link=False):
        if uid is not None or gid is not None:
            os.lchown(path, -1 if uid is None else uid, -1 if gid is None else gid)
        if mode is not None and not is_link:
            os.chmod(path, mode)

    def enforce_attributes(self, entry, path, st, ids, mode, is_link=False):
        """Owner, group and mode of an existing path whose content or target is already right."""
        uid, gid, unknown = ids
        if unknown:  # check mode, the owner or group is created by an earlier task of the run
            self.record(path, {"owner/group": "current"}, {"owner/group": "new"}, entry)
            return
        differ = self.attributes_differ(st, uid, gid, mode, is_link=is_link)
        if differ:
            if not self.check:
                self.set_attributes(path, uid, gid, mode, is_link=is_link)
            self.record(path, {k: v[0] for k, v in differ.items()}, {k: v[1] for k, v in differ.items()}, entry)

    def record(self, path, before, after, entry, before_text=None, after_text=None):
        self.changed_paths.append(path)
        if not self.module._diff:
            return
        diff = {"before_header": path, "after_header": path}
        if before_text is not None or after_text is not None:
            if entry.get("diff", True) and not entry.get("secret", False):
                diff["before"], diff["after"] = before_text or "", after_text or ""
            else:
                diff["before"], diff["after"] = "(content hidden)\n", "(content hidden, changed)\n"
        else:
            diff["before"], diff["after"] = before, after
        self.diffs.append(diff)

    # -- entries -------------------------------------------------------------------------------
    def apply(self, entry):
        path = entry["path"]
        if not os.path.isabs(path):
            raise EntryError(f"{path}: the path must be absolute")
        state = entry["state"]
        getattr(self, "apply_" + state)(entry, path, lstat_or_none(path))

    def apply_absent(self, entry, path, st):
        kind = kind_of(st)
        if kind == "absent":
            return
        if kind == "directory" and os.listdir(path):
            raise EntryError(f"{path}: refusing to remove a directory that is not empty")
        if not self.check:
            if kind == "directory":
                os.rmdir(path)
            else:
                os.unlink(path)
        self.record(path, {"state": kind}, {"state": "absent"}, entry)

    def apply_directory(self, entry, path, st):
        mode = parse_mode(entry["mode"], path)
        uid, gid, unknown = self.ids(entry)
        kind = kind_of(st)
        if kind not in ("absent", "directory"):
            raise EntryError(f"{path}: exists and is a {kind}, not a directory")
        if kind == "absent":
            self.planned.add(path)
            if not self.check:
                os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
                os.mkdir(path, 0o755 if mode is None else mode)
                self.set_attributes(path, uid, gid, 0o755 if mode is None else mode)
            self.record(path, {"state": "absent"}, {"state": "directory"}, entry)
            return
        self.enforce_attributes(entry, path, st, (uid, gid, unknown), mode)

    def apply_link(self, entry, path, st):
        target = entry["src"]
        if not target:
            raise EntryError(f"{path}: a link entry needs src")
        uid, gid, unknown = self.ids(entry)
        kind = kind_of(st)
        if kind == "directory":
            raise EntryError(f"{path}: exists and is a directory, not a link")
        if not self.parent_exists(path):
            raise EntryError(f"{path}: the parent directory does not exist")
        current = os.readlink(path) if kind == "link" else None
        if current != target:
            if not self.check:
                tmp = self.new_symlink(target, path)
                try:
                    if uid is not None or gid is not None:
                        os.lchown(tmp, -1 if uid is None else uid, -1 if gid is None else gid)
                    os.rename(tmp, path)
                except BaseException:
                    os.unlink(tmp)
                    raise
            self.record(path, {"state": kind, "src": current}, {"state": "link", "src": target}, entry)
            return
        self.enforce_attributes(entry, path, st, (uid, gid, unknown), None, is_link=True)

    def wanted_content(self, entry, path):
        if entry["content"] is not None and entry["content_base64"] is not None:
            raise EntryError(f"{path}: give content or content_base64, not both")
        if entry["content_base64"] is not None:
            return base64.b64decode(entry["content_base64"])
        if entry["content"] is None:
            raise EntryError(f"{path}: a file entry needs content")
        return to_bytes(entry["content"], errors="surrogate_or_strict")

    def apply_file(self, entry, path, st):
        data = self.wanted_content(entry, path)
        mode = parse_mode(entry["mode"], path)
        uid, gid, unknown = self.ids(entry)
        kind = kind_of(st)
        if kind in ("directory", "special"):
            raise EntryError(f"{path}: exists and is a {kind}, not a regular file")
        if not self.parent_exists(path):
            raise EntryError(f"{path}: the parent directory does not exist")
        current = None
        if kind == "file":
            with open(path, "rb") as handle:
                current = handle.read()
        rewrite = kind != "file" or (entry["force"] and current != data)
        if rewrite:
            new_mode = mode if mode is not None else (stat.S_IMODE(st.st_mode) if kind == "file" else 0o644)
            if not self.check:
                self.write(entry, path, data, uid, gid, new_mode)
            self.record(path, None, None, entry, before_text=self.text(current), after_text=self.text(data))
            return
        self.enforce_attributes(entry, path, st, (uid, gid, unknown), mode)

    @staticmethod
    def new_symlink(target, path):
        """A symlink to target under a fresh name next to path (renamed over path afterwards)."""
        for _attempt in range(100):
            tmp = os.path.join(os.path.dirname(path), ".%s.%s" % (os.path.basename(path), os.urandom(6).hex()))
            try:
                os.symlink(target, tmp)
                return tmp
            except FileExistsError:
                continue
        raise EntryError(f"{path}: could not create a temporary link next to it")

    @staticmethod
    def text(data):
        if data is None:
            return ""
        if len(data) > DIFF_MAX or b"\0" in data:
            return "(%d bytes, not shown)\n" % len(data)
        return to_text(data, errors="surrogate_or_replace")

    def write(self, entry, path, data, uid, gid, mode):
        directory = os.path.dirname(path)
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            self.set_attributes(tmp, uid, gid, mode)
            if entry["validate"]:
                self.validate(entry, path, tmp)
            try:
                os.rename(tmp, path)
            except OSError as exc:
                if not entry["unsafe_writes"] or exc.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM, errno.EACCES):
                    raise
                # A bind-mounted file: it cannot be replaced, only rewritten.
                with open(path, "wb") as handle:
                    handle.write(data)
                self.set_attributes(path, uid, gid, mode)
                os.unlink(tmp)
        except BaseException:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise

    def validate(self, entry, path, tmp):
        command = entry["validate"]
        if "%s" not in command:
            raise EntryError(f"{path}: validate must contain %s, got '{command}'")
        rc, out, err = self.module.run_command(command.replace("%s", shlex.quote(tmp)))
        if rc != 0:
            raise EntryError(
                f"{path} was not written: the check `{command}` refused it (rc {rc}).\n"
                f"{(err or '').strip()}\n{(out or '').strip()}".strip()
            )


def main():
    # no_log: AnsibleModule would otherwise write every argument, so every file's content, to the
    # host's journal ("Invoked with ..."). Marking only the content options no_log would not do:
    # their values would then be masked out of every diff, secret or not.
    module = AnsibleModule(
        argument_spec=dict(files=dict(type="list", elements="dict", required=True, options=ENTRY_SPEC)),
        supports_check_mode=True,
        no_log=True,
    )
    applier = Applier(module)
    for entry in module.params["files"]:
        try:
            applier.apply(entry)
        except EntryError as exc:
            module.fail_json(msg=to_native(exc), changed=bool(applier.changed_paths),
                             changed_paths=applier.changed_paths)
        except (OSError, IOError) as exc:
            module.fail_json(msg=f"{entry['path']}: {to_native(exc)}", changed=bool(applier.changed_paths),
                             changed_paths=applier.changed_paths)
    result = dict(changed=bool(applier.changed_paths), changed_paths=applier.changed_paths)
    if module._diff:
        result["diff"] = applier.diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
