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
# Values fetched with the request's identity (``crm.backends``: the same Redis round trip as the
# session's user), for the request's ``page_cache_batch``; dropped when a request starts or ends.
_prefetched: ContextVar[dict[str, Any] | None] = ContextVar("page_cache_prefetched", default=None)
# ``fn(user_id, tenant_id) -> keys`` of the facts worth fetching with every page's identity.
_prefetch_keys: list[Callable[[int, int], list[str]]] = []


def page_cache_key(*parts: object) -> str:
    database = settings.DATABASES["default"].get("NAME", "")
    return ":".join([KEY_PREFIX, str(database), *(str(part) for part in parts)])


def register_prefetch(keys: Callable[[int, int], list[str]]) -> None:
    """Have ``keys(user_id, tenant_id)`` fetched with the identity of every page request."""
    if keys not in _prefetch_keys:
        _prefetch_keys.append(keys)


def prefetch_keys(user_id: int, tenant_id: int) -> list[str]:
    return [key for keys in _prefetch_keys for key in keys(user_id, tenant_id)]


def remember_prefetched(found: dict[str, Any], keys: Iterable[str]) -> None:
    """What the identity's round trip found for ``keys`` (absent: a miss), for this request."""
    _prefetched.set({key: found.get(key) for key in keys})


def forget_prefetched(**kwargs: Any) -> None:
    """``request_started`` / ``request_finished``: nothing fetched for one request serves another."""
    _prefetched.set(None)


@contextmanager
def page_cache_batch(keys: Iterable[str]) -> Iterator[None]:
    """Fetch the copies a page will ask for in ONE Redis round trip (each costs one otherwise);
    none if the request's identity fetched them already (:func:`register_prefetch`)."""
    keys = list(keys)
    prefetched = _prefetched.get() or {}
    values = {key: prefetched[key] for key in keys if key in prefetched}
    missing = [key for key in keys if key not in values]
    if missing:
        try:
            values.update(cache.get_many(missing))
        except Exception:
            pass
    token = _batch.set({key: values.get(key) for key in keys})
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
    """Drop ``keys`` now and again when the current transaction commits (and from this request's
    values fetched ahead, so a page rendered after the write reads it afresh)."""
    keys = list(keys)
    if not keys:
        return
    for fetched in (_batch.get(), _prefetched.get()):
        for key in keys:
            if fetched is not None:
                fetched.pop(key, None)

    def forget() -> None:
        try:
            cache.delete_many(keys)
        except Exception:
            return

    forget()
    transaction.on_commit(forget)
