"""The login backend for staff: the session's user, with its tenant, from a Redis copy or one statement.

Every page request reads the user (session) and its tenant (``TenantMiddleware``). The user and
tenant are loaded in one statement (``select_related``) and then kept in Redis for
``SESSION_USER_CACHE_SECONDS``, so a page request spends no statement on its identity. A copy is
valid only while two generation numbers still hold the values they had *before* the copy was
read from the database:

* the user's, bumped by any save or delete of the user (deactivation, password or role change —
  not a save of ``last_login`` alone, which every login makes);
* the tenant's, bumped by any save or delete of the tenant (deactivation, settings).

A bump happens at the save and again when its transaction commits, so a request that read the
row before the commit stored its copy under the old number and never serves it afterwards. A
generation that is missing (never written, evicted, Redis flushed) is started at a fresh random
value and never matches an older copy. One ``get_many`` per request (copy + both generations; the
tenant of a user is remembered per process; on first sight a process asks the copy, or the row,
for it). The same round trip fetches the page's cached facts (``crm.page_cache.register_prefetch``).
Redis down: the statement, as before. Only users of a tenant are cached (platform
operators always read the database). A bulk ``QuerySet.update()`` of users or tenants sends no
signal: deactivate through ``save()`` (every code path does), or a copy lives up to the timeout.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from crm.page_cache import forget_prefetched, prefetch_keys, remember_prefetched

# User id -> tenant id, per process (a user's tenant is fixed; a change is caught by the user's
# generation and the reload's tenant check).
_tenant_of_user: dict[int, int] = {}


def _timeout() -> int:
    return int(getattr(settings, "SESSION_USER_CACHE_SECONDS", 0))


def _prefix() -> str:
    return f"sessionuser:v1:{settings.DATABASES['default'].get('NAME', '')}:"


def _entry_key(user_id: int) -> str:
    return f"{_prefix()}user:{user_id}"


def _user_generation_key(user_id: int) -> str:
    return f"{_prefix()}generation:user:{user_id}"


def _tenant_generation_key(tenant_id: int) -> str:
    return f"{_prefix()}generation:tenant:{tenant_id}"


class TenantUserBackend(ModelBackend):
    """``ModelBackend`` whose ``get_user`` joins the tenant and keeps a checked Redis copy.

    Authentication and permissions are ModelBackend's unchanged.
    """

    def get_user(self, user_id: Any) -> Any:
        try:
            pk = int(user_id)
        except (TypeError, ValueError):
            return self._load(user_id)
        if _timeout() <= 0:
            return self._checked(self._load(pk))
        tenant_id = _tenant_of_user.get(pk)
        keys = [_entry_key(pk), _user_generation_key(pk)]
        ahead = []
        if tenant_id is not None:
            keys.append(_tenant_generation_key(tenant_id))
            ahead = prefetch_keys(pk, tenant_id)  # the page's cached facts, same round trip
        try:
            found = cache.get_many(keys + ahead)
            if ahead:
                remember_prefetched(found, ahead)
            entry = found.get(_entry_key(pk))
            if tenant_id is None:  # first sight in this process: the copy, else the row, tells
                tenant_id = entry[0][0] if entry else self._tenant_id(pk)
                if tenant_id is None:  # no such user, or a platform operator: never cached
                    return self._checked(self._load(pk))
                found.update(cache.get_many([_tenant_generation_key(tenant_id)]))
            stamp = _stamp(pk, tenant_id, found)
        except Exception:  # the cache is an optimisation
            return self._checked(self._load(pk))
        if entry and entry[0] == stamp:
            _tenant_of_user[pk] = tenant_id
            return self._checked(entry[1])
        user = self._load(pk)  # read after the generations: a save committed since bumps them
        if user is not None and user.tenant_id == tenant_id:
            _tenant_of_user[pk] = tenant_id
            try:
                cache.set(_entry_key(pk), (stamp, user), _timeout())
            except Exception:
                pass
        return self._checked(user)

    def _tenant_id(self, user_id: int) -> int | None:
        return (
            get_user_model()._default_manager.filter(pk=user_id).values_list("tenant_id", flat=True).first()
        )

    def _load(self, user_id: Any) -> Any:
        user_model = get_user_model()
        try:
            return user_model._default_manager.select_related("tenant").get(pk=user_id)
        except user_model.DoesNotExist:
            return None

    def _checked(self, user: Any) -> Any:
        return user if user is not None and self.user_can_authenticate(user) else None


def _stamp(user_id: int, tenant_id: int, found: dict) -> tuple:
    """``(tenant, user generation, tenant generation)``; a missing generation starts afresh."""
    keys = [_user_generation_key(user_id), _tenant_generation_key(tenant_id)]
    missing = [key for key in keys if key not in found]
    if missing:
        for key in missing:
            cache.add(key, secrets.randbits(62), None)
        found.update(cache.get_many(missing))
    return (tenant_id, *(found[key] for key in keys))


def _bump(key: str) -> None:
    """Invalidate every copy stored under the current value of ``key`` (now and on commit)."""

    def bump() -> None:
        try:
            cache.incr(key)
        except ValueError:  # missing: the next read starts it afresh, no copy can match
            return
        except Exception:
            return

    bump()
    transaction.on_commit(bump)


def _user_changed(sender, instance, update_fields=None, **kwargs) -> None:  # noqa: ARG001 - signal receiver
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    _bump(_user_generation_key(instance.pk))


def _tenant_changed(sender, instance, **kwargs) -> None:  # noqa: ARG001 - signal receiver
    _bump(_tenant_generation_key(instance.pk))


def connect_signals() -> None:
    from crm.models import Tenant

    user_model = get_user_model()
    for name, signal in (("save", post_save), ("delete", post_delete)):
        signal.connect(_user_changed, sender=user_model, dispatch_uid=f"session_user.User.{name}")
        signal.connect(_tenant_changed, sender=Tenant, dispatch_uid=f"session_user.Tenant.{name}")
    request_started.connect(forget_prefetched, dispatch_uid="page_cache.prefetched.started")
    request_finished.connect(forget_prefetched, dispatch_uid="page_cache.prefetched.finished")
