#!/usr/bin/env bash
# Set up and run the CRM with demo data: web server + Celery worker with beat.
#
# With nothing set it starts this machine's PostgreSQL and Redis (scripts/ensure_services.sh) and
# uses database `crm` as the non-superuser role `crm`; DATABASE_URL (postgres://...) and REDIS_URL
# (redis://...) point it elsewhere. PORT (default 8000) and HOST (default 127.0.0.1) choose the address:
#   PORT=8010 scripts/up.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-crm.settings.local}"
export CRM_DEMO=1  # the zero-setup demo: Celery may use the local settings (see crm/celery.py)

fail() { echo "ERROR: $*" >&2; exit 1; }
show_log() { echo "---- last lines of $1 ----" >&2; tail -n 25 "$1" >&2 || true; echo "----" >&2; }
port_free() {
  "$1" - "$HOST" "$PORT" <<'PY'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
with socket.socket(family) as probe:
    try:
        probe.bind((host.strip("[]"), port))
    except OSError as error:
        sys.exit(f"{host}:{port} is not available ({error.strerror}).")
PY
}
port_free "$PYTHON" || fail "the web server cannot listen there. Pick another port, e.g.  PORT=8010 scripts/up.sh"

if [ ! -x .venv/bin/python ]; then
  echo "==> Creating .venv"
  "$PYTHON" -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
fi
if ! .venv/bin/python -c "import crm, django, celery" >/dev/null 2>&1 || [ pyproject.toml -nt .venv/.installed ]; then
  echo "==> Installing the CRM and its dependencies"
  .venv/bin/pip install --quiet -e ".[dev]"
  touch .venv/.installed
fi

mkdir -p var/celery/queue var/celery/processed var/celery/control var/log
# The CRM runs on PostgreSQL (row-level security, triggers, the search function) and Redis, as in
# production: with no DATABASE_URL, start the local ones (scripts/ensure_services.sh creates the
# non-superuser role and database `crm`) and use them.
if [ -z "${DATABASE_URL:-}" ]; then
  echo "==> PostgreSQL and Redis on this machine (scripts/ensure_services.sh)"
  bash scripts/ensure_services.sh >var/log/services.log 2>&1 || {
    show_log var/log/services.log
    fail "PostgreSQL and Redis are needed (apt-get install postgresql redis-server), or set DATABASE_URL and REDIS_URL."
  }
  export DATABASE_URL="postgres://crm:crm@127.0.0.1:5432/crm"
  export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
fi
echo "==> Database: $(printf '%s' "${DATABASE_URL:-sqlite}" | sed -E 's#//[^@/]*@#//#'); broker: ${CELERY_BROKER_URL:-${REDIS_URL:-filesystem (var/celery)}}"
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python manage.py seed_demo

pids=()
cleanup() { echo; echo "==> Stopping"; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

.venv/bin/celery -A crm worker -B --pool=solo --loglevel=INFO \
  --schedule var/celerybeat-schedule >var/log/celery.log 2>&1 &
celery_pid=$!
pids+=("$celery_pid")
.venv/bin/python manage.py runserver "$HOST:$PORT" --noreload >var/log/web.log 2>&1 &
web_pid=$!
pids+=("$web_pid")

# Only say "running" once the login page answers; if a process dies first, show why and stop.
up=""
for _ in $(seq 1 60); do
  kill -0 "$web_pid" 2>/dev/null || { show_log var/log/web.log; fail "the web server did not start (see above)."; }
  kill -0 "$celery_pid" 2>/dev/null || { show_log var/log/celery.log; fail "the Celery worker did not start (see above)."; }
  if curl -fsS -o /dev/null "http://$HOST:$PORT/accounts/login/" 2>/dev/null; then up=1; break; fi
  sleep 1
done
[ -n "$up" ] || { show_log var/log/web.log; fail "no answer from http://$HOST:$PORT/ after 60 s."; }

cat <<MSG

  Jiazhuang CRM is running:  http://$HOST:$PORT/
  API docs:                  http://$HOST:$PORT/api/docs/
  Demo logins (password demo12345), tenant 安居家装 (anju) and 美宅装饰 (meizhai):
    anju_manager  anju_sales  anju_designer  anju_pm  anju_supervisor  anju_service  anju_admin
    meizhai_manager ... (same roles)
  Logs: var/log/web.log, var/log/celery.log (worker + beat).  Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
