#!/usr/bin/env bash
# `npm run pulumi -- <args>`: the Pulumi CLI with this project's defaults (scripts/pulumi.ts).
set -euo pipefail
PROJECT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
cd "$PROJECT_DIR"
[ -d node_modules ] || npm ci --no-audit --no-fund >&2
CARTIE_PROJECT_DIR="$PROJECT_DIR" exec node --import tsx scripts/pulumi.ts "$@"
