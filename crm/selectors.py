"""Platform reads."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import ApiToken, Tenant, User
from crm.page_cache import page_cache_forget, page_cache_key, page_cached
from crm.permissions import has_duty

STAFF_NAMES_SECONDS = 300


def staff_of_tenant(*, tenant: Tenant, duty: str | None = None, active_only: bool = True) -> list[User]:
    """Staff of one tenant, optionally only those on the roster ``duty`` (see
    :func:`crm.permissions.has_duty`; filtered in Python: JSON lists, few users)."""
    users = User.objects.filter(tenant=tenant).order_by("id")
    if active_only:
        users = users.filter(is_active=True)
    return [user for user in users if duty is None or has_duty(user, duty)]


def staff_names(*, tenant: Tenant) -> dict[int, str]:
    """Every user of the tenant (former staff too: they may still own rows) by id -> the name pages
    show (``str(user)``); cached per tenant, dropped by any save of one of its users."""

    def load() -> dict[int, str]:
        rows = User.objects.filter(tenant=tenant).values_list("pk", "display_name", "username")
        return {pk: display_name or username for pk, display_name, username in rows}

    return page_cached(staff_names_key(tenant.pk), load, timeout=STAFF_NAMES_SECONDS)


def staff_names_key(tenant_id: int) -> str:
    return page_cache_key("staff-names", tenant_id)


def staff_names_forget(
    sender: type,  # noqa: ARG001 - signal receiver
    instance: User,
    update_fields: frozenset[str] | None = None,
    **kwargs: object,
) -> None:
    if instance.tenant_id is None or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    page_cache_forget([staff_names_key(instance.tenant_id)])


def staff_queryset(*, tenant: Tenant) -> QuerySet[User]:
    """For form and filter choices: a tenant's active staff."""
    return User.objects.filter(tenant=tenant, is_active=True).order_by("id")


def api_tokens_for_list(*, tenant: Tenant) -> QuerySet[ApiToken]:
    return ApiToken.objects.select_related("user", "created_by").order_by("-created_at")
