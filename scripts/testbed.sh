#!/usr/bin/env bash
# Make sure a Docker engine answers and the base images the Molecule scenarios use exist.
# Idempotent: when the engine runs and the images are there it is a fast no-op.
#
# Images are built from Debian's own mirror with debootstrap and imported; nothing is pulled
# from a registry. Each release is tagged twice:
#   foobar-webstack/debian:<release>  what the scenarios use
#   debian:<release>                  so an ordinary `FROM debian:<release>` Dockerfile builds offline
#                                     (only when no image of that name exists already)
#
# Environment:
#   WEBSTACK_RELEASES       releases to build (default "bookworm trixie")
#   WEBSTACK_DEBIAN_MIRROR  Debian mirror URL (default: the first Debian mirror in this host's apt sources)
#   WEBSTACK_REBUILD_IMAGES=1  rebuild the images even when present
set -euo pipefail

RELEASES=${WEBSTACK_RELEASES:-"bookworm trixie"}
IMAGE_REPO=foobar-webstack/debian
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
  log "importing $IMAGE_REPO:$release"
  tar -C "$dir" -c . | docker import \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change 'ENV container=docker' \
    - "$IMAGE_REPO:$release" >/dev/null
}

ensure_images() {
  local release
  for release in $RELEASES; do
    if [ "${WEBSTACK_REBUILD_IMAGES:-0}" = 1 ] || ! docker image inspect "$IMAGE_REPO:$release" >/dev/null 2>&1; then
      build_image "$release"
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
