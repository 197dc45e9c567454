"""Token scopes, enforced in one place for every API view (through the base viewset).

A token request is allowed only when the token's scope covers the endpoint's module: ``read`` for
safe methods (GET, HEAD, OPTIONS), ``write`` for the rest. The user's roles are checked as well
(:class:`crm.permissions.HasRolePermission`), so a token can never do more than its user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import apps
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from crm.models import TokenAccess, TokenModule, token_scope

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# App label -> token module. An app missing here is refused to every token (fail closed).
TOKEN_MODULE_BY_APP_LABEL: dict[str, str] = {
    "customers": TokenModule.CUSTOMERS,
    "projects": TokenModule.PROJECTS,
    "aftercare": TokenModule.AFTERCARE,
    "referrals": TokenModule.REFERRALS,
    "notifications": TokenModule.NOTIFICATIONS,
    "crm": TokenModule.SETTINGS,
    "outbox": TokenModule.INTEGRATIONS,
    "workdays": TokenModule.SETTINGS,
    "integrations": TokenModule.INTEGRATIONS,
    "analytics": TokenModule.ANALYTICS,
    "engagement": TokenModule.ENGAGEMENT,
    "sales": TokenModule.SALES,
    "quotes": TokenModule.QUOTES,
    "payments": TokenModule.PAYMENTS,
}


def token_module_of(view) -> str | None:
    """The module a view belongs to: ``view.token_scope_module`` or the app that defines the view."""
    explicit = getattr(view, "token_scope_module", None)
    if explicit:
        return explicit
    app_config = apps.get_containing_app_config(type(view).__module__)
    if app_config is None:
        return None
    return TOKEN_MODULE_BY_APP_LABEL.get(app_config.label)


class TokenScopePermission(BasePermission):
    """Sessions pass (their user's roles decide); a token needs the module's read or write scope.

    ``token_scope_exempt = True`` on a view lets any valid token in (``/me/``: who am I).
    """

    message: StrOrPromise = _("API 令牌的权限范围不包含此操作。")

    def has_permission(self, request, view) -> bool:
        token = getattr(request._request, "api_token", None)
        if token is None:
            return True
        if getattr(view, "token_scope_exempt", False):
            return True
        module = token_module_of(view)
        if module is None:
            return False
        write = request.method not in SAFE_METHODS
        if token.allows(module, write=write):
            return True
        needed = token_scope(module, TokenAccess.WRITE if write else TokenAccess.READ)
        self.message = _("API 令牌的权限范围不包含此操作（需要 %(scope)s）。") % {"scope": needed}
        return False
