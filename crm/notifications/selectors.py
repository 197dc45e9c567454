"""Reads shared by the inbox page, the nav badge, the API and the settings page."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from crm.models import Tenant, User
from crm.notifications.models import Channel, Delivery, Notification, OutboundEmail, SmsMessage
from crm.notifications.sms import DEFAULT_SMS_BACKEND, backend_path

#: E-mail backends that deliver nothing outside this machine.
LOCAL_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}
DEMO_OUTBOX_SIZE = 100


def unread_count(*, user: User) -> int:
    """The nav badge: one COUNT on the partial unread index. Needs the user's tenant active."""
    return Notification.objects.filter(tenant_id=user.tenant_id, recipient=user, read_at__isnull=True).count()


def notifications_for_inbox(*, user: User, unread_only: bool = False) -> QuerySet[Notification]:
    """A user's own notifications, newest first (other users' rows are never in it)."""
    queryset = Notification.objects.filter(tenant_id=user.tenant_id, recipient=user).order_by(
        "-created_at", "-id"
    )
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset


def deliveries_for_list(*, tenant: Tenant) -> QuerySet[Delivery]:
    """Managers' view of what went out where; one query per page whatever its size."""
    return (
        Delivery.objects.filter(tenant=tenant)
        .select_related("notification", "notification__recipient")
        .order_by("-created_at", "-id")
    )


def demo_outbox_enabled() -> bool:
    """The demo outbox exists only in the zero-setup demo with nothing really sent: codes are shown
    unmasked there (no customer receives them), never once a real SMS or mail provider is set."""
    return bool(
        settings.CRM_DEMO
        and backend_path() == DEFAULT_SMS_BACKEND
        and settings.EMAIL_BACKEND in LOCAL_EMAIL_BACKENDS
    )


def demo_outbox(*, tenant: Tenant) -> dict[str, list]:
    """The latest SMS, staff e-mails and customer e-mails the demo "sent", newest first (three queries)."""
    sms = list(SmsMessage.objects.filter(tenant=tenant).order_by("-created_at", "-id")[:DEMO_OUTBOX_SIZE])
    emails = list(
        Delivery.objects.filter(tenant=tenant, channel=Channel.EMAIL)
        .select_related("notification")
        .order_by("-created_at", "-id")[:DEMO_OUTBOX_SIZE]
    )
    customer_emails = list(
        OutboundEmail.objects.filter(tenant=tenant).order_by("-created_at", "-id")[:DEMO_OUTBOX_SIZE]
    )
    return {"sms": sms, "emails": emails, "customer_emails": customer_emails}


def outbound_emails_for_list(*, tenant: Tenant) -> QuerySet[OutboundEmail]:
    return OutboundEmail.objects.filter(tenant=tenant).order_by("-created_at", "-id")
