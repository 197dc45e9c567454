"""What the browser shell (templates/base.html) needs on every page: tenant, roles, navigation."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.context_processors import PermWrapper
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language, gettext_lazy

from crm.notifications.selectors import demo_outbox_enabled
from crm.permissions import has_permission, known_permissions
from crm.tenancy import current_tenant

# (label, url name, permission); an entry appears once its page exists and the role may see it.
NAVIGATION = [
    (gettext_lazy("客户"), "customers:list", "customers.view"),
    (gettext_lazy("线索"), "customers:lead-inbox", "customers.view"),
    (gettext_lazy("项目"), "projects:list", "projects.view"),
    (gettext_lazy("售后"), "aftercare:home", "aftercare.view"),
    (gettext_lazy("转介绍"), "referrals:home", "referrals.view"),
    (gettext_lazy("营销"), "engagement:home", "engagement.view"),
    (gettext_lazy("日程"), "sales:calendar", "sales.view"),
    (gettext_lazy("报价"), "quotes:list", "quotes.view"),
    (gettext_lazy("回款"), "payments:list", "payments.view"),
    (gettext_lazy("看板"), "analytics:dashboard", "analytics.view"),
    # webhooks, their deliveries, group-robot routing and the event delivery log (managers)
    (gettext_lazy("集成"), "integrations:webhook-list", "webhooks.view"),
    (gettext_lazy("演示发件箱"), "notifications:demo-outbox", "notifications.view_deliveries"),
]
#: Entries shown only while their condition holds.
NAVIGATION_CONDITIONS = {"notifications:demo-outbox": demo_outbox_enabled}


# (roles, active, language, demo outbox, URLconf, script prefix) -> (label, url) of the entries the
# user may see: computed once per process (12 permission checks and reversals on every page).
_navigation: dict[tuple, list[tuple[Any, str]]] = {}


def _entries(user) -> list[tuple[Any, str]]:
    key = (
        tuple(sorted(set(user.roles or []))),
        user.is_active,
        get_language(),
        demo_outbox_enabled(),
        get_urlconf(),
        get_script_prefix(),
    )
    entries = _navigation.get(key)
    if entries is None:
        declared = known_permissions()
        entries = []
        for label, url_name, permission in NAVIGATION:
            if permission not in declared or not has_permission(user, permission):
                continue
            condition = NAVIGATION_CONDITIONS.get(url_name)
            if condition is not None and not condition():
                continue
            try:
                url = reverse(url_name)
            except NoReverseMatch:
                continue
            entries.append((label, url))
        _navigation[key] = entries
    return entries


def navigation_for(request) -> list[dict]:
    """The entries of a tenant user (:func:`shell` checked the user and tenant)."""
    items: list[dict[str, Any]] = [
        {"label": label, "url": url, "active": False} for label, url in _entries(request.user)
    ]
    # Only the most specific section is highlighted (/customers/leads/ is 线索, not also 客户).
    matching = [item for item in items if request.path.startswith(item["url"])]
    if matching:
        max(matching, key=lambda item: len(item["url"]))["active"] = True
    return items


def shell(request) -> dict:
    """Nothing unless the active tenant is the user's own.

    Public pages (share links, surveys) run inside the link's tenant; a visitor who happens to be
    logged in to another tenant must see neither that tenant's name beside their own identity nor
    a navigation built for a tenant the page is not in.
    """
    user = getattr(request, "user", None)
    tenant = current_tenant()
    if user is None or not user.is_authenticated or tenant is None or user.tenant_id != tenant.pk:
        return {"nav_items": [], "current_tenant": None}
    return {"nav_items": navigation_for(request), "current_tenant": tenant}


class _RolePermLookup:
    """``perms.<app>.<action>`` for one app, from the role table when the permission is declared."""

    def __init__(self, user, app_label: str) -> None:
        self.user, self.app_label = user, app_label

    def __getitem__(self, action: str) -> bool:
        permission = f"{self.app_label}.{action}"
        if permission in known_permissions():
            return has_permission(self.user, permission)
        return self.user.has_perm(permission)

    def __bool__(self) -> bool:
        return self.user.has_module_perms(self.app_label)


class RolePermWrapper(PermWrapper):
    """``{{ perms }}`` answered by the role table without a query.

    Django's wrapper asks every backend; ``ModelBackend`` then reads ``auth_permission`` twice
    (user and group permissions) on every page although tenant staff hold only roles. Platform
    operators (no tenant) and superusers keep Django's wrapper.
    """

    def __getitem__(self, app_label: str):
        return _RolePermLookup(self.user, app_label)

    def __contains__(self, perm_name: str) -> bool:
        app_label, action = perm_name.split(".", 1)
        return self[app_label][action]


def role_perms(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or getattr(user, "tenant_id", None) is None or user.is_superuser:
        return {}
    return {"perms": RolePermWrapper(user)}
