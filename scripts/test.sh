#!/usr/bin/env bash
# The whole test suite, from a clean clone on a fresh Debian machine (as root):
# venv, Docker engine and base images, yamllint, ansible-lint, pytest, every Molecule scenario.
#
# Usage: scripts/test.sh                 everything
#        scripts/test.sh linux_base ...  lint + pytest + only the named scenarios
#        WEBSTACK_SKIP_MOLECULE=1 scripts/test.sh   lint + pytest only
# Each Molecule scenario's full log goes to .cache/test-logs/<scenario>.log; a failure prints its tail.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LOGS=$ROOT/.cache/test-logs
mkdir -p "$LOGS"

START=$SECONDS
passed=0
failed=0
failures=()

step() {
  # step NAME COMMAND...: run, time and count one step of the suite.
  local name=$1 t0=$SECONDS rc
  shift
  printf '\n=== %s\n' "$name"
  "$@"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    printf '=== %s: ok (%d s)\n' "$name" $((SECONDS - t0))
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf '=== %s: FAILED rc=%d (%d s)\n' "$name" "$rc" $((SECONDS - t0))
  fi
  return 0
}

molecule_scenario() {
  local scenario=$1 log=$LOGS/$1.log
  if ! compgen -G "molecule/$scenario/tests/test_*.py" >/dev/null; then
    echo "molecule/$scenario has no tests/test_*.py: a scenario without tests proves nothing"
    return 1
  fi
  if ./scripts/molecule.sh test -s "$scenario" >"$log" 2>&1; then
    grep -E '^=+ .*(passed|failed).* in ' "$log" | tail -n 1
    return 0
  fi
  tail -n 80 "$log"
  echo "(full log: $log)"
  return 1
}

scripts/venv.sh || exit 1
scripts/testbed.sh || exit 1
# shellcheck disable=SC1091
source "$ROOT/.venv/bin/activate"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.collections"
export PY_COLORS=0 ANSIBLE_NOCOLOR=1

step yamllint yamllint --strict .
step ansible-lint ansible-lint --profile production
step pytest python -m pytest tests

if [ "${WEBSTACK_SKIP_MOLECULE:-0}" != 1 ]; then
  if [ $# -gt 0 ]; then
    scenarios=("$@")
  else
    mapfile -t scenarios < <(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort)
  fi
  for scenario in "${scenarios[@]}"; do
    step "molecule $scenario" molecule_scenario "$scenario"
  done
fi

printf '\n=== suite finished in %d s\n' $((SECONDS - START))
[ "$failed" -eq 0 ] || printf '=== failed: %s\n' "${failures[*]}"
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
