"""A short-lived, per-tenant cache of computed panels, shared by the page, the API and the exports.

A panel for a large tenant and a long period aggregates tens of thousands of rows; a manager
switching filters back and forth, or the API polled by a BI tool, should not redo that every time.
So each panel is cached for ``ANALYTICS_CACHE_SECONDS`` (default 300 s) under a key made of the
tenant, the panel, the resolved period and filters, who is asking (a restricted viewer's own
figures are never shared) and the language; every cached panel carries ``computed_at`` and the
page says how fresh its numbers are (and offers a refresh). The monthly report and tests that pin
``scope.now`` compute directly (``analytics.selectors``).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone, translation

from analytics import selectors
from analytics.scope import Scope

KEY_PREFIX = "analytics:panel"


def cache_seconds() -> int:
    return int(getattr(settings, "ANALYTICS_CACHE_SECONDS", 300))


def panel_cache_key(scope: Scope, panel: str) -> str:
    viewer = f"own:{scope.sales_id}" if scope.restricted else "all"
    period = f"{scope.period.preset}:{scope.period.start}:{scope.period.last_day}"
    filters = "|".join(f"{name}={value}" for name, value in sorted(scope.filters_dict().items()))
    # The tenant's creation time too: a recreated database reuses ids, never this pair.
    raw = f"{scope.tenant.created_at}|{period}|{filters}|{viewer}|{translation.get_language()}"
    digest = hashlib.sha256(raw.encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}:{scope.tenant.pk}:{panel}:{digest}"


def _analytic_statements() -> None:
    """Aggregations over a tenant's year are exactly where PostgreSQL's JIT compiler costs more
    (~100+ ms of code generation per statement) than it saves: off for this transaction only."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jit', 'off', true)")


def panels(scope: Scope, keys: list[str], *, refresh: bool = False) -> list[dict]:
    """The panels ``keys`` for ``scope``, each with ``computed_at`` (ISO time it was computed)."""
    if scope.now is not None:  # a pinned clock (tests, reports): never share across clocks
        _analytic_statements()
        now = scope.now.isoformat()
        return [{**selectors.panel_data(key, scope), "computed_at": now} for key in keys]
    cache_keys = {key: panel_cache_key(scope, key) for key in keys}
    found = {} if refresh else cache.get_many(list(cache_keys.values()))
    missing = [key for key in keys if cache_keys[key] not in found]
    if missing:
        _analytic_statements()
        fresh = {}
        for key in missing:
            computed_at = timezone.now().isoformat()
            fresh[cache_keys[key]] = {**selectors.panel_data(key, scope), "computed_at": computed_at}
        cache.set_many(fresh, timeout=cache_seconds())
        found.update(fresh)
    return [found[cache_keys[key]] for key in keys]


def panel(scope: Scope, key: str, *, refresh: bool = False) -> dict:
    return panels(scope, [key], refresh=refresh)[0]


def dashboard(scope: Scope, *, refresh: bool = False) -> list[dict]:
    return panels(scope, list(selectors.PANELS), refresh=refresh)
