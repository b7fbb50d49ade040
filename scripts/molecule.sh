#!/usr/bin/env bash
# Run Molecule from the collection root with the project's venv and a clean environment.
# Usage: scripts/molecule.sh <molecule args>, e.g. scripts/molecule.sh test -s linux_base
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
"$ROOT/scripts/venv.sh"
# The test containers mount the host's wheelhouse: fill it first (a no-op when complete).
"$ROOT/scripts/wheelhouse.sh"
# shellcheck disable=SC1091
source "$ROOT/.venv/bin/activate"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.collections"
export MOLECULE_GLOB="molecule/*/molecule.yml"
export PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1
exec molecule "$@"
