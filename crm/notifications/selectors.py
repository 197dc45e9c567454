"""Reads shared by the inbox page, the nav badge, the API and the settings page."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import Tenant, User
from crm.notifications.models import Delivery, Notification


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
