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
from rest_framework.permissions import BasePermission

from crm.models import Role

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

    message = "您的角色无权执行此操作。"

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
            raise PermissionDenied("您的角色无权访问此页面。")
        return super().dispatch(request, *args, **kwargs)


def require_permission(user, permission: str) -> None:
    """For services: raise ``PermissionDenied`` unless ``user`` may perform ``permission``."""
    if not has_permission(user, permission):
        raise PermissionDenied("您的角色无权执行此操作。")


ALL_STAFF = [Role.SALES, Role.DESIGNER, Role.PROJECT_MANAGER, Role.SUPERVISOR, Role.SERVICE, Role.MANAGER]
MANAGERS = [Role.MANAGER]
