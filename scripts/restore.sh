#!/usr/bin/env bash
# `npm run restore`: bring the Cartie platform back on this Docker host with one command.
# Defaults: local state in .pulumi/, the dev stack, the sample app in examples/cartie.
# Everything it changes is shown by Pulumi before it is applied; nothing here deletes data.
set -euo pipefail
# shellcheck source=scripts/pulumi-env.sh
source "$(dirname "$0")/pulumi-env.sh"
cd "$PROJECT_DIR"

fail() { echo "cartie restore: $*" >&2; exit 1; }
command -v pulumi >/dev/null || fail "the Pulumi CLI is not installed: see https://www.pulumi.com/docs/install/ (then run this again)"
command -v docker >/dev/null || fail "the Docker CLI is not installed (the migration and verification steps use it)"
docker info >/dev/null 2>&1 || fail "no Docker daemon answers${DOCKER_HOST:+ at DOCKER_HOST=$DOCKER_HOST}: start Docker, or set DOCKER_HOST"
[ -d node_modules ] || npm ci --no-audit --no-fund

if ! pulumi stack select "$CARTIE_STACK" 2>/dev/null; then
  pulumi stack init "$CARTIE_STACK" --secrets-provider passphrase
fi

# Secrets: stack config wins; otherwise .env. On a first run with neither, generate strong ones
# into .env (git-ignored, 0600) so the sample platform can start. Values are never printed.
if [ ! -f .env ]; then
  missing=()
  for key in postgresPassword jwtSecret seedSuperadminPassword; do
    pulumi config get "cartie:$key" >/dev/null 2>&1 || missing+=("$key")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    # Adopting an existing database: its password is already set; a generated one would lock the api out.
    if pulumi config get cartie:dataVolume >/dev/null 2>&1 || pulumi config get cartie:legacyComposeProject >/dev/null 2>&1; then
      fail "this stack adopts an existing database, so its secrets must be the ones it already uses: set ${missing[*]} with \`pulumi config set --secret cartie:<key>\` or in .env (see .env.example)"
    fi
    (umask 077 && node -e '
      const r = (n) => require("crypto").randomBytes(n).toString("base64url");
      process.stdout.write(`POSTGRES_PASSWORD=${r(24)}\nJWT_SECRET=${r(48)}\nSEED_SUPERADMIN_PASSWORD=${r(18)}\n`);
    ' >.env)
    echo "cartie restore: generated secrets into .env (not printed). Keep that file: the database password in it is now the database's."
  fi
fi

# At a terminal Pulumi shows the plan and asks before changing anything; elsewhere it proceeds.
confirm=(--yes)
[ -t 0 ] && [ -z "${CI:-}" ] && confirm=()
pulumi up --stack "$CARTIE_STACK" --diff "${confirm[@]}" "$@"
pulumi stack output --stack "$CARTIE_STACK"
