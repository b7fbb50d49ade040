#!/usr/bin/env bash
# Make sure a Docker engine answers and the base images the Molecule scenarios use exist.
# Idempotent: when the engine runs and the images are there it is a fast no-op.
#
# Images are built from Debian's own mirror with debootstrap and imported; nothing is pulled
# from a registry. Per release:
#   foobar-webstack/debian-base:<release>  the debootstrap import (slow; built once)
#   foobar-webstack/debian:<release>       base + this host's extra CA certificates and pip's trust
#                                          setting, so apt and pip inside containers trust what the
#                                          host trusts (seconds; rebuilt when those change)
#   debian:<release>                       the same, so an ordinary `FROM debian:<release>` Dockerfile
#                                          builds offline (only when no image of that name exists)
#
# Environment:
#   WEBSTACK_RELEASES       releases to build (default "bookworm trixie")
#   WEBSTACK_DEBIAN_MIRROR  Debian mirror URL (default: the first Debian mirror in this host's apt sources)
#   WEBSTACK_REBUILD_IMAGES=1  rebuild the images even when present
set -euo pipefail

RELEASES=${WEBSTACK_RELEASES:-"bookworm trixie"}
IMAGE_REPO=foobar-webstack/debian
BASE_REPO=foobar-webstack/debian-base
# Packages every test image carries: Ansible needs python3 and sudo, Molecule boots systemd,
# testinfra's socket checks need ss (iproute2).
IMAGE_PACKAGES=python3,sudo,systemd,systemd-sysv,iproute2,ca-certificates

log() { printf 'testbed: %s\n' "$*" >&2; }
die() { printf 'testbed: ERROR: %s\n' "$*" >&2; exit 1; }

is_debian_root() {
  [ "$(id -u)" -eq 0 ] && [ -r /etc/debian_version ]
}

apt_install() {
  # apt-get update once per invocation, only when something must be installed.
  if [ -z "${__apt_updated:-}" ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    __apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_engine() {
  if docker info >/dev/null 2>&1; then
    return 0
  fi
  if ! is_debian_root; then
    die "no Docker engine answers. Start one (for example 'sudo systemctl start docker') and run again;
       on Debian as root this script installs docker.io and starts dockerd itself."
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    apt_install docker.io
  fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd (log: /var/log/dockerd.log)"
    # No systemd on the host: run the daemon detached from this shell so it outlives it.
    setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      log "docker engine answers"
      return 0
    fi
    sleep 1
  done
  tail -n 20 /var/log/dockerd.log >&2 || true
  die "dockerd did not answer within 60 s (see /var/log/dockerd.log)"
}

debian_mirror() {
  if [ -n "${WEBSTACK_DEBIAN_MIRROR:-}" ]; then
    printf '%s\n' "$WEBSTACK_DEBIAN_MIRROR"
    return 0
  fi
  # The first main-archive URI in this host's apt sources (deb822 or one-line format).
  local uri
  uri=$( { cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}';
           cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '/^deb / {for (i = 2; i <= NF; i++) if ($i ~ /^(http|https|ftp|file):/) {print $i; break}}';
         } | grep -E '/debian/?$' | grep -v -- '-security' | head -n 1 || true)
  [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources*; set WEBSTACK_DEBIAN_MIRROR"
  printf '%s\n' "${uri%/}"
}

build_image() {
  local release=$1 mirror dir
  mirror=$(debian_mirror)
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  [ -e "/usr/share/debootstrap/scripts/$release" ] || apt_install debootstrap
  [ -e "/usr/share/debootstrap/scripts/$release" ] || die "this debootstrap does not know '$release'"
  dir=$(mktemp -d "/var/tmp/webstack-rootfs-$release.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$dir'" RETURN
  log "debootstrap $release from $mirror (about a minute)"
  if ! debootstrap --variant=minbase --include="$IMAGE_PACKAGES" "$release" "$dir" "$mirror" \
      >"$dir.log" 2>&1; then
    tail -n 30 "$dir.log" >&2
    die "debootstrap $release failed (log above)"
  fi
  rm -f "$dir.log"
  # Slim the image: no apt lists or caches (containers run apt-get update themselves).
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
  # The container's apt sources point at the same mirror the image came from.
  printf 'deb %s %s main\n' "$mirror" "$release" >"$dir/etc/apt/sources.list"
  log "importing $BASE_REPO:$release"
  tar -C "$dir" -c . | docker import \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change 'ENV container=docker' \
    - "$BASE_REPO:$release" >/dev/null
}

trust_files() {
  # The host's extra CA certificates (a TLS-inspecting proxy's, a company CA).
  find /usr/local/share/ca-certificates -maxdepth 2 -type f -name '*.crt' 2>/dev/null | sort
}

trust_hash() {
  { echo "recipe 1"; trust_files | while read -r f; do sha256sum "$f"; done; } | sha256sum | cut -c1-16
}

build_trust_layer() {
  local release=$1 want=$2 ctx
  ctx=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$ctx'" RETURN
  mkdir -p "$ctx/ca"
  trust_files | while read -r f; do cp "$f" "$ctx/ca/"; done
  # pip inside a venv uses its own CA bundle unless told to use the system's.
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$ctx/pip.conf"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE_REPO:$release
COPY ca/ /usr/local/share/ca-certificates/
COPY pip.conf /etc/pip.conf
RUN update-ca-certificates >/dev/null
LABEL org.foobar-webstack.trust=$want
DOCKERFILE
  log "building $IMAGE_REPO:$release (host trust $want)"
  DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE_REPO:$release" "$ctx" >/dev/null 2>"$ctx/build.err" \
    || { cat "$ctx/build.err" >&2; die "docker build of $IMAGE_REPO:$release failed"; }
}

ensure_images() {
  local release want have
  want=$(trust_hash)
  for release in $RELEASES; do
    if [ "${WEBSTACK_REBUILD_IMAGES:-0}" = 1 ] || ! docker image inspect "$BASE_REPO:$release" >/dev/null 2>&1; then
      build_image "$release"
    fi
    have=$(docker image inspect -f '{{ index .Config.Labels "org.foobar-webstack.trust" }}' "$IMAGE_REPO:$release" 2>/dev/null || true)
    if [ "$have" != "$want" ] || [ "${WEBSTACK_REBUILD_IMAGES:-0}" = 1 ]; then
      build_trust_layer "$release" "$want"
      docker tag "$IMAGE_REPO:$release" "debian:$release"
    fi
    if ! docker image inspect "debian:$release" >/dev/null 2>&1; then
      docker tag "$IMAGE_REPO:$release" "debian:$release"
    fi
  done
}

main() {
  local start=$SECONDS
  ensure_engine
  ensure_images
  log "ready in $((SECONDS - start)) s: $(docker images --format '{{.Repository}}:{{.Tag}}' "$IMAGE_REPO" | sort | tr '\n' ' ')"
}

main "$@"
