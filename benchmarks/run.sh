#!/usr/bin/env bash
# Run the benchmarks with the project's venv and test bed:
#   benchmarks/run.sh [all|converge|throughput|fronts] [options]   the single server (site_benchmark.py);
#                                               fronts: Apache and nginx side by side on one container
#   benchmarks/run.sh cluster [--warm]                            the cluster demo (cluster_benchmark.py)
# It prints figures (see benchmarks/site_benchmark.py); it is not a test and is not part of scripts/test.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/venv.sh"
"$ROOT/scripts/testbed.sh"
# shellcheck disable=SC1091
source "$ROOT/.venv/bin/activate"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.collections"
if [ "${1:-}" = "cluster" ]; then
  shift
  exec python "$ROOT/benchmarks/cluster_benchmark.py" "$@"
fi
exec python "$ROOT/benchmarks/site_benchmark.py" "$@"
