#!/usr/bin/env bash
# Static type check (mypy + django-stubs + djangorestframework-stubs, config in pyproject.toml):
# crm/ in full plus every app's services, selectors and API layers must have zero errors.
set -euo pipefail
cd "$(dirname "$0")/.."

shopt -s nullglob
paths=(crm)
for app in */apps.py; do
  app="${app%/apps.py}"
  [ "$app" = crm ] && continue
  for p in "$app"/services* "$app"/selectors* "$app"/api*; do
    paths+=("$p")
  done
done

exec .venv/bin/mypy "${paths[@]}" "$@"
