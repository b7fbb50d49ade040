#!/usr/bin/env bash
# The test containers' pip packages, downloaded once on the host and shared by every scenario.
#
# Fills /var/cache/foobar-webstack/wheels (next to the apt caches; the Molecule config mounts it) with the wheels of every
# requirements file the roles install on a host (python_app's app), for the Python of each Debian
# release the tests run (bookworm 3.11, trixie 3.13), and writes the pip.conf the test containers
# mount as /etc/pip.conf: pip there installs from the mounted wheelhouse and never asks PyPI
# (registry answers here are not cacheable, so pip's own HTTP cache downloads every time).
#
# Idempotent: a stamp of the requirements files' content says the wheelhouse is complete; then the
# script returns at once and downloads nothing. A requirements file that changes fills it again.
# The wheelhouse is a test-bed cache: outside the repo's tracked files, never in the built collection,
# never used by the demo or a production run (they install from the index as a user's host would).
#
# Usage: scripts/wheelhouse.sh            fill when needed; prints nothing on stdout
#        scripts/wheelhouse.sh --check    exit 0 when complete, 1 when it must be filled
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=/var/cache/foobar-webstack/wheels
CONF=$(dirname "$DIR")/pip.conf
# The containers' Pythons: Debian 12 ships 3.11, Debian 13 ships 3.13.
PYTHONS=${WEBSTACK_WHEEL_PYTHONS:-"3.11 3.13"}

log() { printf 'wheelhouse: %s\n' "$*" >&2; }
die() { printf 'wheelhouse: ERROR: %s\n' "$*" >&2; exit 1; }

mapfile -t REQS < <(find "$ROOT/roles" -path '*/files/*' -name 'requirements*.txt' | sort)
[ "${#REQS[@]}" -gt 0 ] || die "no requirements file under roles/*/files: nothing to fill"

want=$( { echo "recipe 1 $PYTHONS $(uname -m)"; sha256sum "${REQS[@]}" | cut -d' ' -f1; } | sha256sum | cut -c1-16)
stamp=$DIR/.complete-$want

conf() {
  # The same trust setting as the image's own pip.conf, plus the wheelhouse and no index.
  printf '# Written by scripts/wheelhouse.sh for the test containers: wheels from the host only.\n'
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\nfind-links = %s\nno-index = true\n' "$DIR"
}

if [ -e "$stamp" ] && [ "$(conf)" = "$(cat "$CONF" 2>/dev/null)" ]; then
  exit 0
fi
[ "${1:-}" = "--check" ] && exit 1

"$ROOT/scripts/venv.sh"
PIP=$ROOT/.venv/bin/pip
mkdir -p "$DIR"
start=$SECONDS
for py in $PYTHONS; do
  for req in "${REQS[@]}"; do
    log "pip download for Python $py: ${req#"$ROOT"/}"
    # Wheels only (nothing is built on the host), for the container's Python, not the host's.
    if ! "$PIP" download --quiet --disable-pip-version-check --only-binary=:all: \
        --python-version "$py" --platform "manylinux2014_$(uname -m)" --platform any \
        --dest "$DIR" -r "$req" >&2; then
      die "pip download failed for $req (Python $py): the test containers would have no wheels"
    fi
  done
done
rm -f "$DIR"/.complete-*
conf >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
touch "$stamp"
log "ready in $((SECONDS - start)) s: $(find "$DIR" -maxdepth 1 -name '*.whl' | wc -l) wheels in $DIR"
