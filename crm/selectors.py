"""Platform reads."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import ApiToken, Tenant, User
from crm.permissions import has_duty


def staff_of_tenant(*, tenant: Tenant, duty: str | None = None, active_only: bool = True) -> list[User]:
    """Staff of one tenant, optionally only those on the roster ``duty`` (see
    :func:`crm.permissions.has_duty`; filtered in Python: JSON lists, few users)."""
    users = User.objects.filter(tenant=tenant).order_by("id")
    if active_only:
        users = users.filter(is_active=True)
    return [user for user in users if duty is None or has_duty(user, duty)]


def staff_queryset(*, tenant: Tenant) -> QuerySet[User]:
    """For form and filter choices: a tenant's active staff."""
    return User.objects.filter(tenant=tenant, is_active=True).order_by("id")


def api_tokens_for_list(*, tenant: Tenant) -> QuerySet[ApiToken]:
    return ApiToken.objects.select_related("user", "created_by").order_by("-created_at")
