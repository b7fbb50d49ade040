#!/usr/bin/env bash
# Run the site benchmark with the project's venv and test bed: benchmarks/run.sh [all|converge|throughput] [options]
# It prints figures (see benchmarks/site_benchmark.py); it is not a test and is not part of scripts/test.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/venv.sh"
"$ROOT/scripts/testbed.sh"
# shellcheck disable=SC1091
source "$ROOT/.venv/bin/activate"
exec python "$ROOT/benchmarks/site_benchmark.py" "$@"
