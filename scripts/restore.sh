#!/usr/bin/env bash
# `npm run restore`: installs the npm packages if they are missing, then runs scripts/restore.ts.
set -euo pipefail
PROJECT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
cd "$PROJECT_DIR"
[ -d node_modules ] || npm ci --no-audit --no-fund >&2
CARTIE_PROJECT_DIR="$PROJECT_DIR" exec node --import tsx scripts/restore.ts "$@"
