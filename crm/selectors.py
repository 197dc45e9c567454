"""Platform reads."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import ApiToken, Tenant, User


def staff_of_tenant(*, tenant: Tenant, role: str | None = None, active_only: bool = True) -> list[User]:
    """Staff of one tenant, optionally with a role (role filter in Python: JSON lists, few users)."""
    users = User.objects.filter(tenant=tenant).order_by("id")
    if active_only:
        users = users.filter(is_active=True)
    return [user for user in users if role is None or user.has_role(role)]


def staff_queryset(*, tenant: Tenant) -> QuerySet[User]:
    """For form and filter choices: a tenant's active staff."""
    return User.objects.filter(tenant=tenant, is_active=True).order_by("id")


def api_tokens_for_list(*, tenant: Tenant) -> QuerySet[ApiToken]:
    return ApiToken.objects.select_related("user", "created_by").order_by("-created_at")
