#!/usr/bin/env bash
# Prepare this machine for the real (Docker-backed) tests.
# Idempotent: safe to run again; does nothing that is already done.
# Must run as root. Installs Docker engine + the tools used to build local
# base images (there is no image registry here), then makes sure dockerd runs.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-real: must run as root" >&2
  exit 1
fi

PKGS=(docker.io debootstrap busybox-static postgresql caddy ca-certificates curl chromium libnss3-tools)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-real: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "setup-real: packages already installed"
fi

if docker info >/dev/null 2>&1; then
  echo "setup-real: dockerd already answering"
else
  echo "setup-real: starting dockerd (log: /tmp/dockerd.log)"
  nohup dockerd >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      break
    fi
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "setup-real: dockerd did not answer within 60 s; see /tmp/dockerd.log" >&2
    tail -n 30 /tmp/dockerd.log >&2 || true
    exit 1
  fi
  echo "setup-real: dockerd is up"
fi
