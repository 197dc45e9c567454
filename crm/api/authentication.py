"""DRF authentication by per-tenant API token (resolved once, by :class:`crm.middleware.TenantMiddleware`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from crm.middleware import presents_token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Hands DRF the principal the middleware resolved; it never looks a token up itself.

    The middleware has already refused a bad token or a session of another user, so a token
    request reaching a view is exactly that token's user.
    """

    keyword = "Token"

    def authenticate(self, request):
        token = getattr(request._request, "api_token", None)
        if token is None:
            if presents_token(request._request):  # unreachable behind TenantMiddleware; fail closed
                raise exceptions.AuthenticationFailed(_("API 令牌无效或已吊销。"))
            return None
        return (token.user, token)

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "crm.api.authentication.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token crm_xxxx_...` — created by a manager under 设置 → API 令牌.",
        }
