"""The one tenancy mechanism: who the current tenant is, and how queries are scoped to it.

Two walls keep tenants apart:

1. The application: the current tenant lives in a ``ContextVar``; the default (and base) manager
   of every :class:`TenantOwnedModel` filters by it and **raises** when none is active (fail closed).
2. PostgreSQL row-level security: entering a tenant sets ``app.tenant_id`` transaction-locally
   (``set_config(..., true)``) inside the transaction that runs the queries; the policy installed
   by :mod:`crm.rls` hides every other tenant's row, even from raw SQL.

Platform code that must see every tenant (token lookup, periodic scans that iterate tenants)
uses :func:`platform_scope` — greppable, logged, and also honoured by the RLS policy.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from django.db import connection, models, transaction

if TYPE_CHECKING:
    from crm.models import Tenant

logger = logging.getLogger("crm.tenancy")

_current_tenant: ContextVar[Tenant | None] = ContextVar("crm_current_tenant", default=None)
_platform_scope_reason: ContextVar[str | None] = ContextVar("crm_platform_scope", default=None)

TENANT_SETTING = "app.tenant_id"
PLATFORM_SETTING = "app.platform_scope"


class TenantNotSetError(RuntimeError):
    """A tenant-owned table was queried with no tenant active: refuse rather than leak."""


def current_tenant() -> Tenant | None:
    return _current_tenant.get()


def require_tenant() -> Tenant:
    tenant = _current_tenant.get()
    if tenant is None:
        raise TenantNotSetError(
            "No tenant is active. Wrap the code in crm.tenancy.tenant_context(tenant) "
            "or, for platform code, crm.tenancy.platform_scope(reason)."
        )
    return tenant


def in_platform_scope() -> bool:
    return _platform_scope_reason.get() is not None


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _set_db_setting(name: str, value: str) -> None:
    if _is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


@contextmanager
def tenant_context(tenant: Tenant) -> Iterator[Tenant]:
    """Run the block as ``tenant``: scoped managers, and RLS inside one transaction.

    The block runs inside ``transaction.atomic()`` because the RLS setting is transaction-local
    (safe behind a transaction-mode pooler); on normal exit the previous tenant is restored for
    nested use, on error the rollback undoes the setting.
    """
    if tenant is None or tenant.pk is None:
        raise TenantNotSetError("tenant_context() needs a saved tenant")
    previous = _current_tenant.get()
    token = _current_tenant.set(tenant)
    outermost = not connection.in_atomic_block  # its COMMIT ends the transaction-local setting
    try:
        with transaction.atomic():
            _set_db_setting(TENANT_SETTING, str(tenant.pk))
            yield tenant
            # A rollback undoes the setting anyway; so does the COMMIT of an outermost block (one
            # statement fewer per request).
            if not outermost and not transaction.get_rollback():
                _set_db_setting(TENANT_SETTING, str(previous.pk) if previous is not None else "")
    finally:
        _current_tenant.reset(token)


@contextmanager
def no_tenant() -> Iterator[None]:
    """Explicitly leave any tenant (e.g. a worker thread that must start clean)."""
    token = _current_tenant.set(None)
    try:
        yield
    finally:
        _current_tenant.reset(token)


@contextmanager
def platform_scope(reason: str) -> Iterator[None]:
    """Escape hatch for platform code that must read across tenants. Always give a reason."""
    if not reason:
        raise ValueError("platform_scope() requires a reason")
    logger.info("platform scope entered: %s", reason)
    token = _platform_scope_reason.set(reason)
    outermost = not connection.in_atomic_block
    try:
        with transaction.atomic():
            _set_db_setting(PLATFORM_SETTING, "on")
            yield
            if not outermost and not transaction.get_rollback():
                _set_db_setting(PLATFORM_SETTING, "")
    finally:
        _platform_scope_reason.reset(token)


class TenantQuerySet(models.QuerySet):
    pass


# The stubs' plugin cannot type a from_queryset() base used inline; managers stay untyped (Any).
class TenantManager(models.Manager.from_queryset(TenantQuerySet)):  # type: ignore[misc]
    """Default and base manager of tenant-owned models: scoped to the current tenant, fail closed."""

    def get_queryset(self) -> TenantQuerySet:
        queryset = super().get_queryset()
        if in_platform_scope():
            return queryset
        return queryset.filter(tenant_id=require_tenant().pk)

    def none(self) -> TenantQuerySet:
        """An empty queryset needs no tenant (schema generators and form defaults ask for one)."""
        return super().get_queryset().none()


class TenantOwnedModel(models.Model):
    """Base of every model that belongs to one tenant (decoration company).

    Carries ``tenant`` directly (never through a join) so RLS and a later distribution by tenant
    work; ``UniqueConstraint(tenant, id)`` is added to every concrete subclass automatically.
    """

    tenant = models.ForeignKey(
        "crm.Tenant", on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )

    objects = TenantManager()

    class Meta:
        abstract = True
        base_manager_name = "objects"
        default_manager_name = "objects"

    def save(self, *args, **kwargs) -> None:
        active = current_tenant()
        if self.tenant_id is None:
            self.tenant = require_tenant()
        elif active is not None and self.tenant_id != active.pk and not in_platform_scope():
            raise TenantNotSetError(
                f"Refusing to save {type(self).__name__} of tenant {self.tenant_id} inside tenant {active.pk}"
            )
        super().save(*args, **kwargs)


def _add_tenant_id_constraint(sender: type[models.Model], **kwargs) -> None:
    """Give every concrete tenant-owned model ``UniqueConstraint(tenant, id)`` (Citus-ready)."""
    if not issubclass(sender, TenantOwnedModel) or sender._meta.abstract or sender._meta.proxy:
        return
    name = f"{sender._meta.db_table}_tenant_id_uniq"[:63]
    if any(getattr(c, "name", None) == name for c in sender._meta.constraints):
        return
    sender._meta.constraints = [
        *sender._meta.constraints,
        models.UniqueConstraint(fields=["tenant", "id"], name=name),
    ]
    sender._meta.original_attrs["constraints"] = sender._meta.constraints


models.signals.class_prepared.connect(_add_tenant_id_constraint)


def tenant_owned_models() -> list[type[models.Model]]:
    from django.apps import apps

    return [
        model
        for model in apps.get_models()
        if issubclass(model, TenantOwnedModel) and not model._meta.proxy and model._meta.managed
    ]


# Sync indexes (crm/sync.py) hook class_prepared too: connect before any tenant-owned model exists.
import crm.sync  # noqa: E402, F401


def tenant_today(tenant: Tenant) -> datetime.date:
    """Today's date in the tenant's time zone (deadlines, due dates, "received today" checks)."""
    from django.utils import timezone

    return timezone.now().astimezone(tenant.zoneinfo).date()
