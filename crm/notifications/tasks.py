"""Celery tasks: thin, idempotent wrappers around the senders in services.

``deliver`` / ``send_sms`` / ``send_email`` may run twice for the same row (on_commit + beat, a redelivered
message, two workers): the row lock and the ``sent`` status make the second run a no-op.
"""

from __future__ import annotations

from crm.celery import TenantTask, app
from crm.models import Tenant
from crm.notifications import services
from crm.tasks import active_tenant_ids
from crm.tenancy import no_tenant, require_tenant


def _active_tenant(tenant_id: int) -> Tenant | None:
    with no_tenant():
        return Tenant.objects.filter(pk=tenant_id, is_active=True).first()


# Not TenantTask: "sending" must commit before the provider call, so the service runs its own
# short transactions instead of one around the whole task.
@app.task(name="notifications.deliver")
def deliver(*, tenant_id: int, delivery_id: int) -> str | None:
    tenant = _active_tenant(tenant_id)
    return services.delivery_attempt(tenant=tenant, delivery_id=delivery_id) if tenant else None


@app.task(name="notifications.deliver_many")
def deliver_many(*, tenant_id: int, delivery_ids: list[int]) -> list[str | None]:
    """A batch queued by ``notify_many``: each row is claimed and sent on its own, as ``deliver``."""
    tenant = _active_tenant(tenant_id)
    if tenant is None:
        return []
    return [services.delivery_attempt(tenant=tenant, delivery_id=pk) for pk in delivery_ids]


@app.task(name="notifications.send_sms")
def send_sms(*, tenant_id: int, sms_id: int) -> str | None:
    tenant = _active_tenant(tenant_id)
    return services.sms_attempt(tenant=tenant, sms_id=sms_id) if tenant else None


@app.task(name="notifications.send_email")
def send_email(*, tenant_id: int, email_id: int) -> str | None:
    tenant = _active_tenant(tenant_id)
    return services.email_attempt(tenant=tenant, email_id=email_id) if tenant else None


@app.task(name="notifications.send_sms_many")
def send_sms_many(*, tenant_id: int, sms_ids: list[int]) -> list[str | None]:
    """A batch queued by ``bulk.sms_send_many``: each row is claimed and sent on its own, as ``send_sms``."""
    tenant = _active_tenant(tenant_id)
    if tenant is None:
        return []
    return [services.sms_attempt(tenant=tenant, sms_id=pk) for pk in sms_ids]


@app.task(base=TenantTask, name="notifications.requeue_due_for_tenant")
def requeue_due_for_tenant(*, tenant_id: int) -> int:
    return services.outbound_requeue_due(tenant=require_tenant())


@app.task(name="notifications.requeue_due")
def requeue_due() -> int:
    """Beat: fan out per tenant; covers a lost on_commit or a worker that died mid-send."""
    tenant_ids = active_tenant_ids()
    for tenant_id in tenant_ids:
        requeue_due_for_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)
