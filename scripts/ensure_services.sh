#!/usr/bin/env bash
# Make sure PostgreSQL and Redis are up on this machine and that the CRM's database role exists.
# The role is a NON-superuser (with CREATEDB for the test runner): a superuser would bypass
# row-level security and every isolation test would prove nothing.
set -euo pipefail

PGHOST_ADDR="${PGHOST_ADDR:-127.0.0.1}"
PGPORT_NUM="${PGPORT_NUM:-5432}"
REDIS_PORT="${REDIS_PORT:-6379}"
CRM_DB_ROLE="${CRM_DB_ROLE:-crm}"
CRM_DB_PASSWORD="${CRM_DB_PASSWORD:-crm}"
CRM_DB_NAME="${CRM_DB_NAME:-crm}"

pg_up() { pg_isready -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  echo "PostgreSQL is not answering on $PGHOST_ADDR:$PGPORT_NUM; starting it..."
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { echo "ERROR: could not start PostgreSQL. Install it (apt-get install postgresql) or set TEST_DATABASE_URL to a running server." >&2; exit 1; }
fi

if ! redis_up; then
  echo "Redis is not answering on 127.0.0.1:$REDIS_PORT; starting it..."
  if command -v redis-server >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no || true
  fi
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  redis_up || { echo "ERROR: could not start Redis. Install it (apt-get install redis-server) or set TEST_REDIS_URL." >&2; exit 1; }
fi

# Create the non-superuser login role and the database (needs a superuser: local trust auth as postgres).
PSQL_ADMIN=(psql -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U "${PG_ADMIN_USER:-postgres}" -d postgres -v ON_ERROR_STOP=1 -qtA)
if "${PSQL_ADMIN[@]}" -c "SELECT 1" >/dev/null 2>&1; then
  if [ "$("${PSQL_ADMIN[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$CRM_DB_ROLE'")" != "1" ]; then
    "${PSQL_ADMIN[@]}" -c "CREATE ROLE \"$CRM_DB_ROLE\" LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS PASSWORD '$CRM_DB_PASSWORD'"
  else
    "${PSQL_ADMIN[@]}" -c "ALTER ROLE \"$CRM_DB_ROLE\" LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS"
  fi
  # The production-shaped app role: not an owner, no CREATEDB; migrations grant it DML only.
  if [ "$("${PSQL_ADMIN[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '${CRM_APP_ROLE:-crm_app}'")" != "1" ]; then
    "${PSQL_ADMIN[@]}" -c "CREATE ROLE \"${CRM_APP_ROLE:-crm_app}\" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB PASSWORD '${CRM_APP_PASSWORD:-crm_app}'"
  fi
  # The owner of the customer-search function (customers/migrations/0014): it applies the tenant
  # itself, so it may bypass RLS and use the trigram indexes. NOLOGIN; granted to the migration role
  # (which owns the tables and could disable RLS anyway) so it can hand the function over; never
  # to the app role. Its only table privilege is SELECT on five columns, granted by the migration.
  CRM_SEARCH_ROLE="${CRM_SEARCH_ROLE:-crm_search}"
  if [ "$("${PSQL_ADMIN[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$CRM_SEARCH_ROLE'")" != "1" ]; then
    "${PSQL_ADMIN[@]}" -c "CREATE ROLE \"$CRM_SEARCH_ROLE\" NOLOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOINHERIT"
  fi
  "${PSQL_ADMIN[@]}" -c "GRANT \"$CRM_SEARCH_ROLE\" TO \"$CRM_DB_ROLE\""
  if [ "$("${PSQL_ADMIN[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$CRM_DB_NAME'")" != "1" ]; then
    "${PSQL_ADMIN[@]}" -c "CREATE DATABASE \"$CRM_DB_NAME\" OWNER \"$CRM_DB_ROLE\""
  fi
  # pg_trgm (customer search) is a trusted extension: the database owner (and so the test runner,
  # which owns its test database) creates it in the migration. Created here as well for a
  # migration role that does not own the database.
  "${PSQL_ADMIN[@]}" -d "$CRM_DB_NAME" -c "CREATE EXTENSION IF NOT EXISTS pg_trgm" -c "CREATE EXTENSION IF NOT EXISTS btree_gin" || true
else
  echo "note: cannot connect as ${PG_ADMIN_USER:-postgres} to create role $CRM_DB_ROLE; assuming it exists." >&2
fi
echo "PostgreSQL and Redis are up; database role '$CRM_DB_ROLE' (non-superuser) is ready."
