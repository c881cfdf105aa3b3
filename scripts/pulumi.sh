#!/usr/bin/env bash
# `npm run pulumi -- <args>`: the Pulumi CLI with this project's defaults (local state, dev stack).
set -euo pipefail
# shellcheck source=scripts/pulumi-env.sh
source "$(dirname "$0")/pulumi-env.sh"
cd "$PROJECT_DIR"
exec pulumi --stack "$CARTIE_STACK" "$@"
