"""Brief Redis copies of small per-user / per-tenant facts every page shows (nav badge, menus).

A copy lives ``timeout`` seconds at most and is dropped by the write that changes it — at once
and again when that write's transaction commits, so a request racing the write cannot keep the
old value past its own transaction for longer than ``timeout``. Redis being down only costs the
statement the copy saves. Keys carry the database name (one Redis may serve several databases).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")
KEY_PREFIX = "pagecache:v1"
# Values fetched ahead by ``page_cache_batch`` for the current request (None: a miss).
_batch: ContextVar[dict[str, Any] | None] = ContextVar("page_cache_batch", default=None)


def page_cache_key(*parts: object) -> str:
    database = settings.DATABASES["default"].get("NAME", "")
    return ":".join([KEY_PREFIX, str(database), *(str(part) for part in parts)])


@contextmanager
def page_cache_batch(keys: Iterable[str]) -> Iterator[None]:
    """Fetch the copies a page will ask for in ONE Redis round trip (each costs one otherwise)."""
    keys = list(keys)
    try:
        found = cache.get_many(keys)
    except Exception:
        found = {}
    token = _batch.set({key: found.get(key) for key in keys})
    try:
        yield
    finally:
        _batch.reset(token)


def page_cached(key: str, compute: Callable[[], T], *, timeout: int) -> T:
    """The cached value of ``key``, else ``compute()`` (then cached for ``timeout`` seconds)."""
    batch = _batch.get()
    if batch is not None and key in batch:
        value = batch[key]
    else:
        try:
            value = cache.get(key)
        except Exception:  # the cache is an optimisation
            return compute()
    if value is not None:
        return value
    value = compute()
    if batch is not None and key in batch:
        batch[key] = value
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
