"""Fixtures for collection-level tests (not role scenarios)."""

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def root():
    return ROOT


def role_dirs():
    return sorted(p for p in (ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").is_file())
