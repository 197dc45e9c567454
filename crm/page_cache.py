"""Brief Redis copies of small per-user / per-tenant facts every page shows (nav badge, menus).

A copy lives ``timeout`` seconds at most and is dropped by the write that changes it — at once
and again when that write's transaction commits, so a request racing the write cannot keep the
old value past its own transaction for longer than ``timeout``. Redis being down only costs the
statement the copy saves. Keys carry the database name (one Redis may serve several databases).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")
KEY_PREFIX = "pagecache:v1"


def page_cache_key(*parts: object) -> str:
    database = settings.DATABASES["default"].get("NAME", "")
    return ":".join([KEY_PREFIX, str(database), *(str(part) for part in parts)])


def page_cached(key: str, compute: Callable[[], T], *, timeout: int) -> T:
    """The cached value of ``key``, else ``compute()`` (then cached for ``timeout`` seconds)."""
    try:
        value = cache.get(key)
    except Exception:  # the cache is an optimisation
        return compute()
    if value is not None:
        return value
    value = compute()
    try:
        cache.set(key, value, timeout)
    except Exception:
        pass
    return value


def page_cache_forget(keys: Iterable[str]) -> None:
    """Drop ``keys`` now and again when the current transaction commits."""
    keys = list(keys)
    if not keys:
        return

    def forget() -> None:
        try:
            cache.delete_many(keys)
        except Exception:
            return

    forget()
    transaction.on_commit(forget)
