# -*- coding: utf-8 -*-
# Copyright: foobar.webstack developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The entries a role's one foobar.webstack.files run writes, chosen by the run's tags."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def concern_files(files_by_concern, role, run_tags):
    """The entries of the concerns a run selects, in order: all of them without tags (or with the
    tags <role> or <role>_configure), else only those named by a tag <role>_<concern>."""
    if not isinstance(files_by_concern, dict):
        raise AnsibleFilterError(f"concern_files takes a dict of concern: entries, got {files_by_concern!r}")
    tags = set(run_tags or ["all"])
    everything = bool(tags & {"all", role, f"{role}_configure"})
    entries = []
    for concern, items in files_by_concern.items():
        if everything or f"{role}_{concern}" in tags:
            entries.extend(items or [])
    return entries


class FilterModule:
    def filters(self):
        return {"concern_files": concern_files}
