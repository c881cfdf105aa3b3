#!/usr/bin/env bash
# End-to-end proof of the sample Cartie monorepo (examples/cartie) on local
# base images: builds both app images (with planted host node_modules/dist that
# must NOT reach the images), runs Postgres + migrations + the api, checks
# /api/health, the incident's baseline path (P3005 -> resolve -> deploy) and the
# missing-env error line. Removes every container/network/volume it creates;
# keeps the images. Needs: .ci/setup-real.sh, test/real/support/base-images.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
API_DIR=$ROOT/examples/cartie/apps/api
WEB_DIR=$ROOT/examples/cartie/apps/web
API_IMAGE=${API_IMAGE:-cartie-sample/api:test}
WEB_IMAGE=${WEB_IMAGE:-cartie-sample/web:test}
VITE_API_BASE_URL=${VITE_API_BASE_URL:-http://localhost:8082/api}
ID=cartie-proof-$$
NET=$ID-net
PGVOL=$ID-pgdata
DB=$ID-db
API=$ID-api
WEB=$ID-web
export DOCKER_BUILDKIT=0

fail() {
  echo "prove-sample: FAIL: $*" >&2
  if docker container inspect "$API" >/dev/null 2>&1; then
    echo "prove-sample: last api log lines:" >&2; docker logs "$API" 2>&1 | tail -n 20 >&2
  fi
  exit 1
}
step_t0=0
step() { step_t0=$(date +%s); echo "prove-sample: $*" >&2; }
done_step() { echo "prove-sample:   ok ($(( $(date +%s) - step_t0 )) s)" >&2; }

cleanup() {
  docker rm -f -v "$API" "$WEB" "$DB" >/dev/null 2>&1 || true
  docker network rm "$NET" >/dev/null 2>&1 || true
  docker volume rm "$PGVOL" >/dev/null 2>&1 || true
  rm -rf "$API_DIR/node_modules/planted" "$API_DIR/dist/planted" \
         "$WEB_DIR/node_modules/planted" "$WEB_DIR/dist/planted"
  rmdir "$API_DIR/dist" "$WEB_DIR/dist" "$API_DIR/node_modules" "$WEB_DIR/node_modules" 2>/dev/null || true
}
trap cleanup EXIT

plant() {
  mkdir -p "$1/node_modules/planted" "$1/dist/planted"
  echo 'module.exports = "planted"' >"$1/node_modules/planted/index.js"
  echo planted >"$1/dist/planted/index.html"
}

# ------------------------------------------------------------------ builds
plant "$API_DIR"; plant "$WEB_DIR"

step "build $API_IMAGE"
docker build -q --build-arg NODE_IMAGE=local/node:18 -t "$API_IMAGE" "$API_DIR" >/dev/null
done_step

step "build $WEB_IMAGE"
docker build -q --build-arg NODE_IMAGE=local/node:18 --build-arg RUNTIME_IMAGE=local/caddy:2.6 \
  --build-arg VITE_API_BASE_URL="$VITE_API_BASE_URL" -t "$WEB_IMAGE" "$WEB_DIR" >/dev/null
done_step

step "web build without VITE_API_BASE_URL fails with a clear message"
if out=$(docker build --rm --force-rm --build-arg NODE_IMAGE=local/node:18 --build-arg RUNTIME_IMAGE=local/caddy:2.6 \
      "$WEB_DIR" 2>&1); then
  fail "web build without VITE_API_BASE_URL succeeded"
fi
grep -q "build arg VITE_API_BASE_URL is required" <<<"$out" || fail "no clear message: $out"
done_step

step "planted host files are not in the images"
docker run --rm --entrypoint sh "$API_IMAGE" -c \
  'test ! -e /app/node_modules/planted && test ! -e /app/dist/planted && test -f /app/dist/server.js' \
  || fail "planted files leaked into $API_IMAGE"
docker run --rm --entrypoint sh "$WEB_IMAGE" -c \
  'test ! -e /srv/planted && test -f /srv/index.html && ! grep -rq planted /srv' \
  || fail "planted files leaked into $WEB_IMAGE"
docker run --rm --entrypoint sh "$WEB_IMAGE" -c "grep -rqF '$VITE_API_BASE_URL' /srv/assets" \
  || fail "bundle lacks VITE_API_BASE_URL"
[ "$(docker image inspect -f '{{.Config.User}}' "$API_IMAGE")" = cartie ] || fail "api image does not run as cartie"
done_step
cleanup   # remove the planted files right away
trap cleanup EXIT

# ------------------------------------------------------------------ db
step "postgres on a user network"
docker network create "$NET" >/dev/null
docker volume create "$PGVOL" >/dev/null
docker run -d --name "$DB" --network "$NET" --network-alias db -v "$PGVOL:/var/lib/postgresql/data" \
  -e POSTGRES_USER=cartie -e POSTGRES_PASSWORD=proof-db-pw -e POSTGRES_DB=cartie local/postgres:15 >/dev/null
for _ in $(seq 1 60); do
  docker exec "$DB" pg_isready -U cartie -d cartie >/dev/null 2>&1 && break
  sleep 1
done
docker exec "$DB" pg_isready -U cartie -d cartie >/dev/null || fail "postgres not ready: $(docker logs "$DB" 2>&1 | tail -5)"
done_step

DBURL="postgresql://cartie:proof-db-pw@db:5432/cartie?schema=public"   # same shape as the platform's
run_api() { docker run --rm --network "$NET" -e DATABASE_URL="$DBURL" "$API_IMAGE" "$@"; }

# The incident: a database that has `users` (made by hand) but no migration history.
step "incident path: users exists, no history -> P3005; resolve --applied v41_baseline; deploy"
docker exec -i "$DB" psql -q -v ON_ERROR_STOP=1 -U cartie -d cartie \
  <"$API_DIR/prisma/migrations/v41_baseline/migration.sql"
docker exec "$DB" psql -q -U cartie -d cartie -c \
  "INSERT INTO users (id, email, \"passwordHash\", role) VALUES ('legacy-1', 'legacy@cartie.test', 'x', 'user')"
if out=$(run_api npx --no-install prisma migrate deploy 2>&1); then fail "deploy on an unbaselined db succeeded"; fi
grep -q P3005 <<<"$out" || fail "expected P3005, got: $out"
t=$(date +%s); run_api npx --no-install prisma migrate resolve --applied v41_baseline >/dev/null 2>&1
echo "prove-sample:   migrate resolve --applied v41_baseline: $(( $(date +%s) - t )) s" >&2
t=$(date +%s); run_api npx --no-install prisma migrate deploy >/dev/null 2>&1
echo "prove-sample:   migrate deploy: $(( $(date +%s) - t )) s" >&2
t=$(date +%s); status=$(run_api npx --no-install prisma migrate status 2>&1) || fail "migrate status: $status"
echo "prove-sample:   migrate status: $(( $(date +%s) - t )) s" >&2
grep -q "Database schema is up to date" <<<"$status" || fail "status: $status"
[ "$(docker exec "$DB" psql -Atq -U cartie -d cartie -c 'SELECT count(*) FROM users')" = 1 ] || fail "rows lost"
docker exec "$DB" pg_dump -U cartie -d cartie --schema-only >/dev/null || fail "pg_dump"
done_step

# ------------------------------------------------------------------ api
step "api container: /api/health 200, seed idempotent"
API_ENV=(-e DATABASE_URL="$DBURL" -e JWT_SECRET=proof-jwt -e SEED_SUPERADMIN_EMAIL=admin@cartie.test
         -e SEED_SUPERADMIN_PASSWORD=proof-admin-pw)
docker run -d --name "$API" --network "$NET" -p 127.0.0.1::3000 "${API_ENV[@]}" "$API_IMAGE" >/dev/null
PORT=$(docker port "$API" 3000/tcp | head -n1 | sed 's/.*://')
code=000
for _ in $(seq 1 30); do
  code=$(curl -s -o /tmp/$ID-health.json -w '%{http_code}' "http://127.0.0.1:$PORT/api/health" || true)
  [ "$code" = 200 ] && break
  sleep 1
done
[ "$code" = 200 ] || fail "health $code: $(cat /tmp/$ID-health.json 2>/dev/null); logs: $(docker logs "$API" 2>&1 | tail -5)"
grep -q '"status":"ok"' /tmp/$ID-health.json || fail "health body: $(cat /tmp/$ID-health.json)"
for _ in $(seq 1 10); do docker logs "$API" 2>&1 | grep -q "superadmin created" && break; sleep 1; done
hash1=$(docker exec "$DB" psql -Atq -U cartie -d cartie -c "SELECT \"passwordHash\" FROM users WHERE email='admin@cartie.test'")
[ -n "$hash1" ] || fail "superadmin not seeded"
docker restart "$API" >/dev/null
PORT=$(docker port "$API" 3000/tcp | head -n1 | sed 's/.*://')   # re-published on restart
for _ in $(seq 1 20); do docker logs "$API" 2>&1 | grep -q "already present" && break; sleep 1; done
docker logs "$API" 2>&1 | grep -q "already present" || fail "second start did not find the superadmin"
hash2=$(docker exec "$DB" psql -Atq -U cartie -d cartie -c "SELECT \"passwordHash\" FROM users WHERE email='admin@cartie.test'")
[ "$hash1" = "$hash2" ] || fail "second start rewrote the superadmin"
if docker logs "$API" 2>&1 | grep -qE 'proof-admin-pw|proof-jwt|proof-db-pw'; then fail "a secret was logged"; fi
rm -f /tmp/$ID-health.json
done_step

step "health 503 names pending migrations"
docker exec "$DB" psql -q -U cartie -d cartie -c \
  "UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = 'v42_add_sessions'"
body=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$PORT/api/health" || true)
grep -q 'pending migrations: v42_add_sessions.* 503$' <<<"$body" || fail "pending: $body"
docker exec "$DB" psql -q -U cartie -d cartie -c \
  "UPDATE _prisma_migrations SET rolled_back_at = NULL WHERE migration_name = 'v42_add_sessions'"
docker stop "$DB" >/dev/null
body=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$PORT/api/health" || true)
grep -q 'database unreachable.* 503$' <<<"$body" || fail "unreachable: $body"
docker start "$DB" >/dev/null
done_step

step "missing SEED_SUPERADMIN_PASSWORD: one stderr line, exit 1"
set +e
err=$(docker run --rm --network "$NET" -e DATABASE_URL="$DBURL" -e JWT_SECRET=proof-jwt \
  -e SEED_SUPERADMIN_EMAIL=admin@cartie.test "$API_IMAGE" 2>&1 >/dev/null)
rc=$?
set -e
[ "$rc" = 1 ] || fail "exit code $rc"
[ "$err" = "cartie-api: missing required environment variables: SEED_SUPERADMIN_PASSWORD" ] || fail "stderr: $err"
done_step

# ------------------------------------------------------------------ web
step "web container serves the SPA on 8080 (wget healthcheck, SPA fallback)"
docker run -d --name "$WEB" --network "$NET" "$WEB_IMAGE" >/dev/null
for _ in $(seq 1 20); do
  docker exec "$WEB" wget -q -O /dev/null http://127.0.0.1:8080/ 2>/dev/null && break
  sleep 1
done
docker exec "$WEB" wget -q -O /dev/null http://127.0.0.1:8080/ || fail "web healthcheck"
docker exec "$WEB" wget -q -O - http://127.0.0.1:8080/some/client/route | grep -q '<title>Cartie</title>' \
  || fail "SPA fallback"
done_step

echo "prove-sample: all checks passed" >&2
