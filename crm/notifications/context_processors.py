"""The unread badge in the top navigation: a cached count (``badge``), only if a page renders it."""

from __future__ import annotations

from django.utils.functional import cached_property

from crm.notifications.badge import badge_unread_count
from crm.tenancy import current_tenant


class UnreadBadge:
    def __init__(self, user) -> None:
        self.user = user

    @cached_property
    def count(self) -> int:
        return badge_unread_count(user=self.user)


def unread(request) -> dict:
    user = getattr(request, "user", None)
    tenant = current_tenant()
    if user is None or not user.is_authenticated or tenant is None or user.tenant_id != tenant.pk:
        return {}
    return {"notifications_badge": UnreadBadge(user)}
