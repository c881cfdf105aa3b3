#!/usr/bin/env bash
# Sourced by restore.sh and pulumi.sh: the built-in defaults for running Pulumi on this project.
# - state in the project (`.pulumi/`, git-ignored) unless PULUMI_BACKEND_URL says otherwise;
# - the dev stack's passphrase in `.pulumi/passphrase` (0600) unless one is already provided.
PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$PROJECT_DIR/.pulumi}"
mkdir -p "$PROJECT_DIR/.pulumi"
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  if [ ! -s "$PROJECT_DIR/.pulumi/passphrase" ]; then
    (umask 077 && node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("base64url"))' >"$PROJECT_DIR/.pulumi/passphrase")
    echo "cartie: created a passphrase for the local state's secrets in .pulumi/passphrase (keep it; back it up with the state)" >&2
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE="$PROJECT_DIR/.pulumi/passphrase"
fi
export CARTIE_STACK="${CARTIE_STACK:-dev}"
