#!/usr/bin/env bash
# Build the local base images the real tests use. There is no image registry
# on this machine (docker pull fails), so every base is made from Debian here.
#
#   local/debian:bookworm  debootstrap --variant=minbase + docker import
#   local/node:18          Debian nodejs/npm + the host CA bundle (TEST ONLY)
#   local/caddy:2.6        Debian caddy + wget
#   local/postgres:15      Debian postgresql-15 + an entrypoint like the official image
#   local/busybox:1        busybox-static + links, for tiny containers
#
# Idempotent: each image is checked with `docker image inspect` first, and the
# debootstrap rootfs tarball is cached under $CACHE_DIR, so a second run is instant.
# Set FORCE=1 to rebuild everything. Needs root, docker, debootstrap, busybox-static
# (see .ci/setup-real.sh).
set -euo pipefail

CACHE_DIR=${CARTIE_REAL_CACHE:-/var/cache/cartie-real}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_CA=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
FORCE=${FORCE:-0}
export DOCKER_BUILDKIT=0

log() { echo "base-images: $*" >&2; }

have_image() {
  [ "$FORCE" != 1 ] && docker image inspect "$1" >/dev/null 2>&1
}

timed() {
  local name=$1; shift
  local t0; t0=$(date +%s)
  "$@"
  log "$name built in $(( $(date +%s) - t0 )) s"
}

WORK=$(mktemp -d /tmp/cartie-base-images.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$CACHE_DIR"

# ---------------------------------------------------------------- debian
build_debian() {
  local tarball="$CACHE_DIR/debian-bookworm-minbase.tar"
  if [ "$FORCE" = 1 ] || [ ! -s "$tarball" ]; then
    local rootfs="$WORK/rootfs"
    log "debootstrap bookworm (about a minute)"
    debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
      tail -n 40 "$WORK/debootstrap.log" >&2; return 1; }
    # keep the image small and deterministic
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . >"$tarball.tmp"
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  else
    log "using cached rootfs $tarball"
  fi
  docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["/bin/bash"]' \
    "$tarball" local/debian:bookworm >/dev/null
}

# ---------------------------------------------------------------- node
build_node() {
  local ctx="$WORK/node"; mkdir -p "$ctx"
  cp "$HOST_CA" "$ctx/host-ca.crt"
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM local/debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# TEST-ONLY: the npm registry is reached through a CA only the host trusts.
# This lives in the test base image, never in an app Dockerfile or app image.
COPY host-ca.crt /usr/local/share/cartie-test-ca/host-ca.crt
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/cartie-test-ca/host-ca.crt
CMD ["node"]
DOCKERFILE
  docker build -q -t local/node:18 "$ctx" >/dev/null
}

# ---------------------------------------------------------------- caddy
build_caddy() {
  local ctx="$WORK/caddy"; mkdir -p "$ctx"
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM local/debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends caddy wget ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /config/caddy /data/caddy /etc/caddy /srv
ENV XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data
EXPOSE 80 443
WORKDIR /srv
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
DOCKERFILE
  docker build -q -t local/caddy:2.6 "$ctx" >/dev/null
}

# ---------------------------------------------------------------- postgres
build_postgres() {
  local ctx="$WORK/postgres"; mkdir -p "$ctx"
  cat >"$ctx/docker-entrypoint.sh" <<'ENTRYPOINT'
#!/bin/bash
# Minimal stand-in for the official postgres image's entrypoint:
# POSTGRES_USER / POSTGRES_PASSWORD (or _FILE) / POSTGRES_DB, initdb on first start,
# trust on the local socket, password (scram) over TCP, listen on *:5432,
# /docker-entrypoint-initdb.d/*.sql|*.sh run once after initdb.
set -euo pipefail
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "${1:-postgres}" != postgres ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 2775 /var/run/postgresql
  exec gosu postgres "$BASH_SOURCE" "$@"
fi

POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
# The official image's file_env: POSTGRES_PASSWORD_FILE names a file (read as postgres) holding the password.
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ] && [ -z "${POSTGRES_PASSWORD:-}" ]; then
  POSTGRES_PASSWORD="$(< "$POSTGRES_PASSWORD_FILE")"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    echo "postgres-entrypoint: POSTGRES_PASSWORD is required on first start (or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" -D "$PGDATA" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 >/dev/null
  rm -f "$pwfile"
  {
    echo "local all all trust"
    echo "host all all 127.0.0.1/32 trust"
    echo "host all all ::1/128 trust"
    echo "host all all all ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  } >"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"

  # The temporary server listens on a private socket dir only, so a readiness
  # probe (pg_isready via /var/run/postgresql) cannot see it and race the restart.
  initsock=$(mktemp -d /tmp/pginit.XXXXXX)
  export PGHOST=$initsock
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k $initsock" -w start >/dev/null
  if [ "$POSTGRES_DB" != postgres ]; then
    psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres -q \
      -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh) echo "postgres-entrypoint: running $f"; . "$f" ;;
      *.sql) echo "postgres-entrypoint: running $f"; psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  unset PGHOST
  rmdir "$initsock" 2>/dev/null || true
  echo "postgres-entrypoint: initialized $PGDATA (user $POSTGRES_USER, db $POSTGRES_DB)"
fi

exec postgres -D "$PGDATA" -c listen_addresses='*' -k /var/run/postgresql
ENTRYPOINT
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM local/debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive
# No default cluster: the entrypoint makes one in $PGDATA on first start.
RUN mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/no-main.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 gosu locales \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql /docker-entrypoint-initdb.d \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
DOCKERFILE
  docker build -q -t local/postgres:15 "$ctx" >/dev/null
}

# ---------------------------------------------------------------- busybox
build_busybox() {
  local root="$WORK/busybox"; mkdir -p "$root/bin" "$root/tmp" "$root/etc"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  chmod 1777 "$root/tmp"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/bin' -c 'CMD ["sh"]' - local/busybox:1 >/dev/null
}

build_if_missing() {
  local image=$1 fn=$2
  if have_image "$image"; then
    log "$image present"
  else
    log "building $image"
    timed "$image" "$fn"
  fi
}

build_if_missing local/busybox:1 build_busybox
build_if_missing local/debian:bookworm build_debian
build_if_missing local/node:18 build_node
build_if_missing local/caddy:2.6 build_caddy
build_if_missing local/postgres:15 build_postgres
log "done"
