#!/usr/bin/env bash
# Fuzz the REST API with schemathesis against a live server: fails on any 5xx or any response that
# does not match the OpenAPI schema. Bounded: fixed seed, few examples per operation, a wall clock.
#
# The server runs on its own freshly migrated database (never the dev or the test database), seeded
# with the demo data, connected as the non-owner app role so row-level security applies, with a
# manager's API token. Usage: scripts/fuzz.sh [extra schemathesis args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST_ADDR="${PGHOST_ADDR:-127.0.0.1}"
PGPORT_NUM="${PGPORT_NUM:-5432}"
FUZZ_DB="${FUZZ_DATABASE_NAME:-crm_fuzz}"
OWNER_URL="postgres://${CRM_DB_ROLE:-crm}:${CRM_DB_PASSWORD:-crm}@$PGHOST_ADDR:$PGPORT_NUM"
APP_ROLE="${CRM_APP_ROLE:-crm_app}"
APP_URL="postgres://$APP_ROLE:${CRM_APP_PASSWORD:-crm_app}@$PGHOST_ADDR:$PGPORT_NUM/$FUZZ_DB"
FUZZ_REDIS_URL="${FUZZ_REDIS_URL:-redis://127.0.0.1:6379/13}"
FUZZ_SEED="${FUZZ_SEED:-20240917}"
FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-25}"
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-600}"
# The coverage phase enumerates every boundary case of every operation (unbounded by
# --max-examples, ~8 minutes here): run it by hand with FUZZ_PHASES=coverage,fuzzing.
FUZZ_PHASES="${FUZZ_PHASES:-examples,fuzzing}"
REPORT_DIR="${FUZZ_REPORT_DIR:-var/fuzz}"

if ! .venv/bin/python -c "import schemathesis" >/dev/null 2>&1; then
  .venv/bin/pip install --quiet -e ".[dev,fuzz]"
fi
if [ -z "${CI_SERVICES_READY:-}" ]; then
  bash scripts/ensure_services.sh >/dev/null
fi
case "$FUZZ_DB" in crm | test_crm*) echo "refusing to fuzz database $FUZZ_DB" >&2; exit 2 ;; esac

start=$(date +%s)
mkdir -p "$REPORT_DIR"
: >"$REPORT_DIR/server.log"
rm -rf "$REPORT_DIR/.schemathesis"  # no replay of earlier runs: CI starts from a fresh clone
psql "$OWNER_URL/postgres" -v ON_ERROR_STOP=1 -qtA \
  -c "DROP DATABASE IF EXISTS \"$FUZZ_DB\" WITH (FORCE)" -c "CREATE DATABASE \"$FUZZ_DB\""
redis-cli -u "$FUZZ_REDIS_URL" flushdb >/dev/null

export DJANGO_SETTINGS_MODULE=crm.settings.local DEBUG=false REDIS_URL="$FUZZ_REDIS_URL"
# Migrations run as the owner and grant DML to the app role; the server runs as the app role.
DATABASE_URL="$OWNER_URL/$FUZZ_DB" DATABASE_APP_ROLE="$APP_ROLE" .venv/bin/python manage.py migrate --noinput -v0
DATABASE_URL="$OWNER_URL/$FUZZ_DB" .venv/bin/python manage.py seed_demo >/dev/null
read -r FUZZ_TOKEN_ID TOKEN < <(DATABASE_URL="$APP_URL" .venv/bin/python manage.py create_api_token \
  --tenant anju --user anju_manager --name fuzz --with-id)
export FUZZ_TOKEN_ID SCHEMATHESIS_HOOKS="$PWD/scripts/fuzz_hooks.py"

PORT=$(.venv/bin/python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
# Persistent connections (one per worker): a busy shared PostgreSQL may have no slot to spare.
DATABASE_URL="$APP_URL" CONN_MAX_AGE=600 .venv/bin/gunicorn crm.wsgi:application --bind "127.0.0.1:$PORT" --workers 2 \
  --timeout 60 --error-logfile "$REPORT_DIR/server.log" --capture-output &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/api/schema/" 2>/dev/null && break
  sleep 1
done

status=0
root=$(pwd)
cd "$REPORT_DIR"  # schemathesis keeps its cache (.schemathesis/) in the working directory
timeout --signal=INT "$FUZZ_TIMEOUT" "$root/.venv/bin/schemathesis" run "http://127.0.0.1:$PORT/api/schema/" \
  --header "Authorization: Token $TOKEN" \
  --checks not_a_server_error,response_schema_conformance \
  --seed "$FUZZ_SEED" --max-examples "$FUZZ_EXAMPLES" --phases "$FUZZ_PHASES" --workers 2 \
  --generation-database none --report junit --report-dir . \
  --no-color "$@" || status=$?
cd "$root"
echo "fuzz finished in $(($(date +%s) - start))s (exit $status); server log: $REPORT_DIR/server.log"
exit "$status"
