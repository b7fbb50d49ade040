#!/usr/bin/env bash
# The whole test suite, from a clean clone on a fresh Debian machine (as root):
# venv, Docker engine and base images, yamllint, ansible-lint, pytest, every Molecule scenario.
#
# Usage: scripts/test.sh                 everything
#        scripts/test.sh linux_base ...  lint + pytest + only the named scenarios
#        WEBSTACK_SKIP_MOLECULE=1 scripts/test.sh   lint + pytest only
#        WEBSTACK_TEST_JOBS=1 scripts/test.sh       one scenario at a time (default: sized from the
#                                                    machine's cores and memory, 2 on 2 cores)
# Scenarios share nothing (their own containers, networks and apt caches), so they run side by side,
# the longest first. Scenarios named in WEBSTACK_TEST_ALONE (default none) run with nothing beside
# them: WEBSTACK_TEST_ALONE=cluster gives the eight-container scenario both cores (14 min instead of
# 19 on 2 cores) at the cost of about 5 min of the whole suite. Each scenario's full log goes to .cache/test-logs/<scenario>.log, every line
# stamped with the seconds since the scenario started; a failure prints its tail. At the end the
# suite prints where the time went (scripts/test_report.py).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LOGS=$ROOT/.cache/test-logs
mkdir -p "$LOGS"

START=$SECONDS
passed=0
failed=0
failures=()

record() {
  # record NAME RC SECONDS: count one finished step of the suite.
  local name=$1 rc=$2 took=$3
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    printf '=== %s: ok (%d s)\n' "$name" "$took"
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf '=== %s: FAILED rc=%d (%d s)\n' "$name" "$rc" "$took"
  fi
}

step() {
  # step NAME COMMAND...: run, time and count one step of the suite.
  local name=$1 t0=$SECONDS rc
  shift
  printf '\n=== %s\n' "$name"
  "$@"
  rc=$?
  record "$name" "$rc" $((SECONDS - t0))
  return 0
}

molecule_scenario() {
  # One scenario, its output stamped into its own log; the exit code is molecule's.
  local scenario=$1 log=$LOGS/$1.log
  if ! compgen -G "molecule/$scenario/tests/test_*.py" >/dev/null; then
    echo "molecule/$scenario has no tests/test_*.py: a scenario without tests proves nothing" >"$log"
    return 1
  fi
  ./scripts/molecule.sh test -s "$scenario" 2>&1 | python "$ROOT/scripts/test_report.py" --stamp >"$log"
  return "${PIPESTATUS[0]}"
}

scenario_result() {
  # Print what one finished scenario said: its test summary, or on failure the tail of its log.
  local scenario=$1 rc=$2 log=$LOGS/$1.log
  if [ "$rc" -eq 0 ]; then
    grep -E '^\[ *[0-9.]+\] =+ .*(passed|failed).* in ' "$log" | tail -n 1 | sed 's/^\[ *[0-9.]*\] //'
  else
    tail -n 80 "$log"
    echo "(full log: $log)"
  fi
}

# Slowest first, so that the last ones to start are short (seconds measured on this machine kind).
scenario_weight() {
  case $1 in
    cluster) echo 1000 ;; python_app) echo 600 ;; site) echo 320 ;; dns) echo 170 ;; linux_base) echo 200 ;; mysql) echo 140 ;;
    apache) echo 90 ;; nginx) echo 100 ;; invalid) echo 110 ;;
    *) echo 30 ;;
  esac
}

default_jobs() {
  # One scenario per core, at most one per 3 GiB of memory (a scenario's containers use well under 1).
  local cores mem
  cores=$(nproc 2>/dev/null || echo 1)
  mem=$(awk '/^MemTotal:/ {print int($2 / 1048576 / 3)}' /proc/meminfo 2>/dev/null || echo 1)
  [ "$mem" -ge 1 ] || mem=1
  echo $((cores < mem ? cores : mem))
}

run_scenarios() {
  local jobs=$1 scenario pid running=0
  shift
  declare -A names starts
  reap_one() {
    # Wait for whichever scenario ends first, then print and count its result.
    local rc
    wait -n -p pid
    rc=$?
    running=$((running - 1))
    printf '\n=== molecule %s\n' "${names[$pid]}"
    scenario_result "${names[$pid]}" "$rc"
    record "molecule ${names[$pid]}" "$rc" $((SECONDS - starts[$pid]))
  }
  local alone=" ${WEBSTACK_TEST_ALONE-} "
  for scenario in "$@"; do
    if [[ $alone == *" $scenario "* ]]; then
      while [ "$running" -gt 0 ]; do reap_one; done
    fi
    while [ "$running" -ge "$jobs" ]; do reap_one; done
    molecule_scenario "$scenario" &
    pid=$!
    names[$pid]=$scenario
    starts[$pid]=$SECONDS
    running=$((running + 1))
    printf '=== started molecule %s\n' "$scenario"
    if [[ $alone == *" $scenario "* ]]; then
      while [ "$running" -gt 0 ]; do reap_one; done
    fi
  done
  while [ "$running" -gt 0 ]; do reap_one; done
}

scripts/venv.sh || exit 1
scripts/testbed.sh || exit 1
scripts/wheelhouse.sh || exit 1
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
    mapfile -t scenarios < <(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename)
  fi
  mapfile -t scenarios < <(for s in "${scenarios[@]}"; do printf '%s %s\n' "$(scenario_weight "$s")" "$s"; done | sort -rn | cut -d' ' -f2)
  jobs=${WEBSTACK_TEST_JOBS:-$(default_jobs)}
  printf '\n=== %d scenarios, %d side by side: %s\n' "${#scenarios[@]}" "$jobs" "${scenarios[*]}"
  t0=$SECONDS
  run_scenarios "$jobs" "${scenarios[@]}"
  printf '=== scenarios finished in %d s\n' $((SECONDS - t0))
  logs=()
  for scenario in "${scenarios[@]}"; do logs+=("$LOGS/$scenario.log"); done
  python scripts/test_report.py "${logs[@]}"
fi

printf '\n=== suite finished in %d s\n' $((SECONDS - START))
[ "$failed" -eq 0 ] || printf '=== failed: %s\n' "${failures[*]}"
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
