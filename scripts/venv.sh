#!/usr/bin/env bash
# Create or refresh the project's virtualenv (.venv) from requirements.txt.
# Idempotent: when .venv was built from the same requirements.txt it returns at once.
# Prints nothing on stdout; `source "$(scripts/venv.sh --path)/bin/activate"` is the usual use.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${WEBSTACK_VENV:-$ROOT/.venv}
REQ=$ROOT/requirements.txt
STAMP=$VENV/.requirements.sha256

log() { printf 'venv: %s\n' "$*" >&2; }
die() { printf 'venv: ERROR: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = "--path" ]; then
  printf '%s\n' "$VENV"
  exit 0
fi

want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  exit 0
fi

pick_python() {
  local py
  for py in ${WEBSTACK_PYTHON:-} python3.11 python3 /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      printf '%s\n' "$py"
      return 0
    fi
  done
  return 1
}

PY=$(pick_python) || die "Python 3.11 or newer is needed (on Debian: apt-get install python3 python3-venv)"
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && [ -r /etc/debian_version ]; then
    log "installing python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    die "$PY has no venv/ensurepip module (on Debian: apt-get install python3-venv)"
  fi
fi

start=$SECONDS
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
log "installing requirements.txt (log: $VENV/pip.log)"
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -r "$REQ" >"$VENV/pip.log" 2>&1; then
  tail -n 30 "$VENV/pip.log" >&2
  die "pip install failed (log above)"
fi
printf '%s\n' "$want" >"$STAMP"
log "ready in $((SECONDS - start)) s"
