#!/usr/bin/env bash
# Run the whole test suite against real PostgreSQL and Redis (started here if they are down).
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv and installing the CRM with its test tools..."
  "$PYTHON" -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
fi
if ! .venv/bin/python -c "import crm, pytest_django, factory" >/dev/null 2>&1 \
   || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/pip install --quiet -e ".[dev]"
  touch .venv/.installed
fi

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  bash scripts/ensure_services.sh
fi
# The browser tests drive Debian's chromium (with CJK fonts); installs them only if missing.
bash scripts/ensure_browser.sh

export DJANGO_SETTINGS_MODULE=crm.settings.test
exec .venv/bin/pytest "$@"
