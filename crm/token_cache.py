"""A short-lived Redis cache of resolved API tokens (token → user and tenant), for the hot API path.

Resolving a token costs its own transaction (platform scope: BEGIN, set_config, SELECT, COMMIT),
which is as much as the request's own work on a list. A resolved token is cached for
``API_TOKEN_CACHE_SECONDS`` under its hash (never the plaintext) and dropped the moment it can be
stale:

* revoking or editing a token deletes its entry (on save and again on commit, so a request racing
  the revoke cannot re-cache the old row for longer than its own transaction);
* any save of a user or tenant (deactivation, role change) bumps that tenant's generation number,
  which every entry of the tenant carries, so the tenant's cached tokens are re-resolved: those
  saves are rare next to API reads. A save of ``last_login`` alone (every login) does not count.

Keys carry the database name (one Redis may serve several databases). One cache round trip per
request (``get_many`` of the entry and its tenant's generation; the tenant of a token hash is
remembered per process), no SQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

if TYPE_CHECKING:
    from crm.models import ApiToken


# Token hash -> its tenant id, per process (immutable facts; bounded by the tokens in use).
_tenant_of_hash: dict[str, int] = {}


def _timeout() -> int:
    return int(getattr(settings, "API_TOKEN_CACHE_SECONDS", 30))


def _prefix() -> str:
    return f"apitoken:v2:{settings.DATABASES['default'].get('NAME', '')}:"


def _key(key_hash: str) -> str:
    return f"{_prefix()}{key_hash}"


def _generation_key(tenant_id: int | None) -> str:
    return f"{_prefix()}generation:{tenant_id}"


def cached_token(key_hash: str) -> ApiToken | None:
    """The cached resolution of ``key_hash``, or ``None`` (miss, or stale after a user/tenant save)."""
    if _timeout() <= 0:
        return None
    try:
        tenant_id = _tenant_of_hash.get(key_hash)
        if tenant_id is None:  # first sight in this process: the entry tells the tenant
            entry = cache.get(_key(key_hash))
            if entry is None:
                return None
            tenant_id = _tenant_of_hash[key_hash] = entry[1].tenant_id
            generation = cache.get(_generation_key(tenant_id), 0)
        else:  # a token's tenant never changes: entry and generation in one round trip
            found = cache.get_many([_key(key_hash), _generation_key(tenant_id)])
            entry, generation = found.get(_key(key_hash)), found.get(_generation_key(tenant_id), 0)
            if entry is None:
                return None
    except Exception:  # the cache is an optimisation: Redis down means resolving from the database
        return None
    if entry[0] != generation:
        return None
    return entry[1]


def remember_token(token: ApiToken) -> None:
    """Cache ``token`` (with its ``user`` and ``tenant`` loaded) under its tenant's generation."""
    if _timeout() <= 0:
        return
    try:
        generation = cache.get(_generation_key(token.tenant_id), 0)
        cache.set(_key(token.key_hash), (generation, token), _timeout())
    except Exception:
        return


def forget_token(key_hash: str) -> None:
    def forget() -> None:
        try:
            cache.delete(_key(key_hash))
        except Exception:
            return

    forget()
    transaction.on_commit(forget)


def forget_tenant_tokens(tenant_id: int | None) -> None:
    key = _generation_key(tenant_id)

    def bump() -> None:
        try:
            cache.set(key, cache.get(key, 0) + 1, None)
        except Exception:
            return

    bump()
    transaction.on_commit(bump)


def _token_changed(sender, instance, **kwargs) -> None:  # noqa: ARG001 - signal receiver signature
    forget_token(instance.key_hash)


def _principal_changed(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    forget_tenant_tokens(instance.pk if sender.__name__ == "Tenant" else instance.tenant_id)


def connect_signals() -> None:
    from crm.models import ApiToken, Tenant, User

    for name, signal in (("save", post_save), ("delete", post_delete)):
        signal.connect(_token_changed, sender=ApiToken, dispatch_uid=f"token_cache.ApiToken.{name}")
        for model in (User, Tenant):
            signal.connect(
                _principal_changed, sender=model, dispatch_uid=f"token_cache.{model.__name__}.{name}"
            )
