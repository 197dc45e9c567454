"""A short-lived, per-tenant cache of computed panels, shared by the page, the API and the exports.

A panel for a large tenant and a long period aggregates tens of thousands of rows; a manager
switching filters back and forth, or the API polled by a BI tool, should not redo that every time.
So each panel is cached for ``ANALYTICS_CACHE_SECONDS`` (default 300 s) under a key made of the
tenant, the panel, the resolved period and filters, who is asking (a restricted viewer's own
figures are never shared) and the language; every cached panel carries ``computed_at`` and the
page says how fresh its numbers are (and offers a refresh). The monthly report and tests that pin
``scope.now`` compute directly (``analytics.selectors``).

So that a manager's first look is served from here too, a beat task (``analytics.tasks``) recomputes
the default views — "this month" and "this year", no filters, every panel — of each tenant whose
managers looked at the dashboard in the last ``ANALYTICS_WARM_ACTIVE_HOURS`` (default 72), in each
language they used, every few minutes: the work grows with the tenants in use, not with all tenants.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone, translation

from analytics import selectors
from analytics.periods import preset_period, previous_period
from analytics.scope import Scope

if TYPE_CHECKING:
    from collections.abc import Iterable

    from crm.models import Tenant

KEY_PREFIX = "analytics:panel"
ACTIVE_PREFIX = "analytics:active"
#: The views the beat keeps warm: the page's default range and "this year", unfiltered.
WARM_PRESETS = ("this_month", "this_year")
#: How often the beat warms (``analytics.apps``: every 4 minutes, inside the 5-minute lifetime).
WARM_EVERY_SECONDS = 240


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


def warm_active_seconds() -> int:
    return int(getattr(settings, "ANALYTICS_WARM_ACTIVE_HOURS", 72)) * 3600


def _active_key(tenant_id: int, language: str) -> str:
    # The database name too: one Redis may serve several databases, whose tenant ids overlap.
    return f"{ACTIVE_PREFIX}:{settings.DATABASES['default'].get('NAME', '')}:{tenant_id}:{language}"


def note_manager_activity(tenant: Tenant) -> None:
    """Remember that a manager of ``tenant`` looked at the dashboard, in the active language, so
    the beat keeps this tenant's default views warm for ``ANALYTICS_WARM_ACTIVE_HOURS``."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    try:
        cache.set(_active_key(tenant.pk, language), 1, timeout=warm_active_seconds())
    except Exception:  # the cache is an optimisation: the page works without it
        return


def active_languages(tenant_ids: Iterable[int]) -> dict[int, list[str]]:
    """The tenants among ``tenant_ids`` with recent manager activity, each with its languages:
    one cache round trip."""
    languages = [code for code, _name in settings.LANGUAGES]
    keys = {
        _active_key(tenant_id, language): (tenant_id, language)
        for tenant_id in tenant_ids
        for language in languages
    }
    found = cache.get_many(list(keys)) if keys else {}
    active: dict[int, list[str]] = {}
    for key in found:
        tenant_id, language = keys[key]
        active.setdefault(tenant_id, []).append(language)
    return active


def default_scope(tenant: Tenant, preset: str) -> Scope:
    """The dashboard's unfiltered, unrestricted scope for ``preset`` as a manager of ``tenant``
    opening it now sees it (the same cache key as ``parse_scope({"range": preset}, …)``)."""
    period = preset_period(preset, today=timezone.localdate(timezone=tenant.zoneinfo), tz=tenant.zoneinfo)
    return Scope(tenant=tenant, period=period, previous=previous_period(period))


def _outlives_next_warm_up(scope: Scope) -> bool:
    """Whether ``scope``'s cached panels (judged by the first) were computed recently enough to
    last until the next warm-up: a duplicated beat, a queue that ran late or a manager who just
    opened the page leave nothing to redo."""
    entry = cache.get(panel_cache_key(scope, next(iter(selectors.PANELS))))
    if not entry:
        return False
    age = (timezone.now() - datetime.datetime.fromisoformat(entry["computed_at"])).total_seconds()
    return age < cache_seconds() - WARM_EVERY_SECONDS


def warm_dashboards(tenant: Tenant, languages: Iterable[str]) -> int:
    """Recompute and cache every panel of the default views of ``tenant`` (inside its tenant
    context) in each of ``languages``, unless they outlive the next warm-up anyway; the number of
    views computed."""
    views = 0
    for language in languages:
        with translation.override(language):
            for preset in WARM_PRESETS:
                scope = default_scope(tenant, preset)
                if _outlives_next_warm_up(scope):
                    continue
                dashboard(scope, refresh=True)
                views += 1
    return views
