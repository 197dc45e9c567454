"""Role-based permissions: one table, used by the API, the browser views, templates and admin.

Each app declares which roles may perform its actions with :func:`grant` in its
``AppConfig.ready()``; everything else asks :func:`has_permission` (or Django's
``user.has_perm("customers.export")``, answered by :class:`RolePermissionBackend`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext, gettext_lazy
from rest_framework.permissions import BasePermission

from crm.models import Role, TokenAccess, TokenModule, scopes_allow, token_scope

# Duties (rosters) are declared like permissions, in their own table: they are not rights (a
# manager may do what a salesperson may, without being in the lead round-robin), so they stay out
# of ``permissions_of`` and token scopes, and the admin role's blanket allowance does not enlist
# every admin. Services never compare role names for either.
SELLS = "customers.sell"  # the sales team: round-robin, owns what they enter, sales targets
RECEIVES_ESCALATIONS = "crm.receive_escalations"  # told about SLA breaches and overdue work

_ROLES_BY_DUTY: dict[str, set[str]] = defaultdict(set)

_ROLES_BY_PERMISSION: dict[str, set[str]] = defaultdict(set)


def grant(permission: str, roles: Iterable[str]) -> None:
    """Allow ``roles`` to perform ``permission`` (``"app.action"``). The admin role may do anything."""
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise ValueError(f"unknown roles {unknown} for {permission}")
    _ROLES_BY_PERMISSION[permission].update(roles)


def grant_many(table: dict[str, Iterable[str]]) -> None:
    for permission, roles in table.items():
        grant(permission, roles)


def grant_duties(table: dict[str, Iterable[str]]) -> None:
    """Put ``roles`` on the roster ``duty`` (``"app.duty"``): see :func:`has_duty`."""
    for duty, roles in table.items():
        unknown = set(roles) - set(Role.values)
        if unknown:
            raise ValueError(f"unknown roles {unknown} for {duty}")
        _ROLES_BY_DUTY[duty].update(roles)


def known_permissions() -> set[str]:
    return set(_ROLES_BY_PERMISSION)


def roles_with(permission: str) -> set[str]:
    if permission not in _ROLES_BY_PERMISSION:
        raise KeyError(f"permission {permission!r} is not declared")
    return _ROLES_BY_PERMISSION[permission] | {Role.ADMIN}


def has_permission(user, permission: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if getattr(user, "tenant_id", None) is None:
        return False  # platform operators act through Django admin, not tenant features
    return bool(set(user.roles or []) & roles_with(permission))


def has_duty(user, duty: str) -> bool:
    """``user`` is on the roster ``duty`` (who is in the lead round-robin, who is told about
    escalations, who counts as a designer in reports). Authorisation asks :func:`has_permission`."""
    if duty not in _ROLES_BY_DUTY:
        raise KeyError(f"duty {duty!r} is not declared")
    if user is None or not user.is_active or getattr(user, "tenant_id", None) is None:
        return False
    return bool(set(user.roles or []) & _ROLES_BY_DUTY[duty])


def permissions_of(user) -> frozenset[str]:
    """Every declared permission ``user`` holds: what "more rights than their own" is measured in."""
    return frozenset(permission for permission in known_permissions() if has_permission(user, permission))


# Token module -> (permission needed to read it, permission prefixes of which one is needed to write).
TOKEN_MODULE_PERMISSIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    TokenModule.CUSTOMERS: ("customers.view", ("customers.",)),
    TokenModule.PROJECTS: ("projects.view", ("projects.",)),
    TokenModule.AFTERCARE: ("aftercare.view", ("aftercare.", "surveys.")),
    TokenModule.REFERRALS: ("referrals.view", ("referrals.",)),
    TokenModule.NOTIFICATIONS: ("notifications.view", ("notifications.",)),
    TokenModule.SETTINGS: ("crm.view_staff", ("crm.manage_",)),
    TokenModule.INTEGRATIONS: ("events.view", ("events.", "webhooks.")),
    TokenModule.ANALYTICS: ("analytics.view", ("analytics.manage_",)),
    TokenModule.ENGAGEMENT: ("engagement.view", ("engagement.consent", "engagement.manage")),
    TokenModule.SALES: ("sales.view", ("sales.schedule",)),
    TokenModule.QUOTES: ("quotes.view", ("quotes.",)),
    TokenModule.PAYMENTS: ("payments.view", ("payments.record", "payments.configure")),
}


def token_scopes_for(user) -> list[str]:
    """The widest scopes a token acting as ``user`` may carry: nothing the user's roles can't do."""
    held = permissions_of(user)
    scopes = []
    for module, (read_permission, write_prefixes) in TOKEN_MODULE_PERMISSIONS.items():
        writes = {p for p in held if p.startswith(write_prefixes) and p != read_permission}
        if writes and read_permission in held:
            scopes.append(token_scope(module, TokenAccess.WRITE))
        elif read_permission in held:
            scopes.append(token_scope(module, TokenAccess.READ))
    return scopes


def scopes_within(scopes: list[str], ceiling: list[str]) -> list[str]:
    """The entries of ``scopes`` that ``ceiling`` does not cover (empty: all within)."""
    beyond = []
    for scope in scopes:
        module, _, access = scope.partition(":")
        if not scopes_allow(ceiling, module, write=access == TokenAccess.WRITE):
            beyond.append(scope)
    return beyond


class RolePermissionBackend:
    """Lets ``user.has_perm("app.action")`` and ``{{ perms.app.action }}`` use the role table."""

    def authenticate(self, request, **credentials):
        return None

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return perm in _ROLES_BY_PERMISSION and has_permission(user_obj, perm)

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        return any(
            perm.startswith(f"{app_label}.") and has_permission(user_obj, perm)
            for perm in _ROLES_BY_PERMISSION
        )

    def get_user(self, user_id):
        return None


class HasRolePermission(BasePermission):
    """DRF permission: ``view.required_permissions`` maps an action (or ``"*"``) to a permission.

    Example: ``required_permissions = {"*": "customers.view", "create": "customers.edit"}``.
    Unsafe methods fall back to ``"write"`` before ``"*"``.
    """

    message = gettext_lazy("您的角色无权执行此操作。")

    def has_permission(self, request, view) -> bool:
        required = getattr(view, "required_permissions", None)
        if not required:
            return request.user.is_authenticated
        action = getattr(view, "action", None) or request.method.lower()
        permission = required.get(action)
        if permission is None and request.method not in ("GET", "HEAD", "OPTIONS"):
            permission = required.get("write")
        if permission is None:
            permission = required.get("*")
        if permission is None:
            return False
        return has_permission(request.user, permission)


class RoleRequiredMixin(AccessMixin):
    """Browser views: ``required_permission = "customers.view"``; anonymous users go to login."""

    required_permission: str = ""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if self.required_permission and not has_permission(request.user, self.required_permission):
            raise PermissionDenied(gettext("您的角色无权访问此页面。"))
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]  # mixed into a View


def require_permission(user, permission: str) -> None:
    """For services: raise ``PermissionDenied`` unless ``user`` may perform ``permission``."""
    if not has_permission(user, permission):
        raise PermissionDenied(gettext("您的角色无权执行此操作。"))


ALL_STAFF = [
    Role.SALES,
    Role.DESIGNER,
    Role.PROJECT_MANAGER,
    Role.SUPERVISOR,
    Role.SERVICE,
    Role.MANAGER,
    Role.FINANCE,
]
MANAGERS = [Role.MANAGER]
