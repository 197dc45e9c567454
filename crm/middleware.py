"""Resolves the one principal of a request (session user or API token) and runs it in its tenant.

One identity per request (ARCHITECTURE.md): an API token authenticates only under ``/api/`` and,
there, *is* the request's user (the session is never consulted); a page request carrying a token
is refused; a session and a token of different users are refused; an unknown or revoked token is
401 JSON. The tenant always comes from the same principal the views check permissions against.
"""

from __future__ import annotations

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.core.signals import setting_changed
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.translation import gettext as _

from crm.models import ApiToken, Tenant, hash_token
from crm.principal import acting_via_token
from crm.tenancy import platform_scope, tenant_context
from crm.token_cache import cached_token, remember_token

TOKEN_KEYWORDS = ("token", "bearer")
API_PATH_PREFIX = "/api/"
# Signed media URLs need no identity: an API client that sends its token everywhere may fetch them,
# as nobody (never as the session's user).
IDENTITY_FREE_PATH_PREFIXES = ("/media/",)


def presents_token(request: HttpRequest) -> bool:
    """Whether ``Authorization`` uses the token scheme (another scheme, e.g. a proxy's Basic, isn't ours)."""
    scheme = request.META.get("HTTP_AUTHORIZATION", "").split(maxsplit=1)[:1]
    return bool(scheme) and scheme[0].lower() in TOKEN_KEYWORDS


def token_from_header(request: HttpRequest) -> str | None:
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) == 2 and parts[0].lower() in TOKEN_KEYWORDS:
        return parts[1]
    return None


def resolve_api_token(plaintext: str) -> ApiToken | None:
    """Find an active token by its hash. Platform code: the tenant is not known yet.

    A resolution is cached briefly (:mod:`crm.token_cache`, dropped on revoke and on any user or
    tenant change), so the hot path spends no statement on it.
    """
    if not plaintext or len(plaintext) > 200:
        return None
    key_hash = hash_token(plaintext)
    token = cached_token(key_hash)
    if token is not None:
        return token
    with platform_scope("API token authentication"):
        token = (
            ApiToken.objects.select_related("user", "tenant")
            .filter(key_hash=key_hash, revoked_at__isnull=True)
            .first()
        )
    if token is None or not token.user.is_active or not token.tenant.is_active:
        return None
    if token.user.tenant_id != token.tenant_id:
        return None
    remember_token(token)
    return token


def refusal(status: int, detail: str) -> JsonResponse:
    """The API's one error shape, for a request refused before any view runs."""
    response = JsonResponse({"detail": detail, "errors": {}}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Token realm="api"'
    return response


class TokenAwareRequest(HttpRequest):
    """For the type checker: the request after ``TenantMiddleware`` set ``api_token`` on it."""

    api_token: ApiToken | None


class TenantMiddleware:
    """Runs the rest of the request inside ``tenant_context`` (one transaction, RLS set locally).

    An error response (status >= 400) rolls the transaction back: a failed request writes nothing.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: TokenAwareRequest) -> HttpResponse:
        request.api_token = None
        if presents_token(request):
            return self._token_request(request)
        tenant = None
        if request.user.is_authenticated and request.user.tenant_id is not None:
            tenant = request.user.tenant
            if tenant is None or not tenant.is_active:
                logout(request)  # a deactivated company's staff are signed out, not served an error
                tenant = None
        if tenant is None:
            return self.get_response(request)
        return self._in_tenant(request, tenant)

    def _token_request(self, request: TokenAwareRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(IDENTITY_FREE_PATH_PREFIXES):
            request.user = AnonymousUser()
            return self.get_response(request)
        if not path.startswith(API_PATH_PREFIX):
            return refusal(400, _("API 令牌只能用于 /api/ 接口；网页请登录后访问，不要附带令牌。"))
        token = resolve_api_token(token_from_header(request) or "")
        if token is None:
            return refusal(401, _("API 令牌无效或已吊销。"))
        session_user = request.user
        if session_user.is_authenticated and session_user.pk != token.user_id:
            return refusal(401, _("登录会话与 API 令牌属于不同身份，请求被拒绝。"))
        request.user = token.user  # nothing downstream may see the session's user
        request.api_token = token
        return self._in_tenant(request, token.tenant)

    def _in_tenant(self, request: TokenAwareRequest, tenant: Tenant) -> HttpResponse:
        with tenant_context(tenant), acting_via_token(request.api_token):
            if request.api_token is not None and request.api_token.mark_used():
                remember_token(request.api_token)  # else the cached copy re-marks every request
            response = self.get_response(request)
            if response.status_code >= 400:
                transaction.set_rollback(True)
        return response


class ExplicitLocaleMiddleware(LocaleMiddleware):
    """Simplified Chinese unless the user picked another language with the switch (cookie).

    The browser's Accept-Language is ignored on purpose: staff of a Chinese company often run
    English-language browsers, and the product's home language is Chinese.
    """

    def process_request(self, request: HttpRequest) -> None:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        supported = {code for code, _ in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


_PER_RESPONSE_CSP = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)


class CachedPolicyCSPMiddleware(CSPMiddleware):
    """django-csp's middleware with the settings' policy built once per process, not per response.

    Building the header (dataclass → dict → directive strings, twice with report-only) cost as much
    as resolving the API token. A response with its own policy (``@csp_update`` & co.) or a request
    that used a nonce goes through django-csp unchanged; so does everything after a settings change.
    """

    _policies: tuple[str, str] | None = None

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or (
            settings.DEBUG and response.status_code in (500, 404)
        ):
            return super().process_response(request, response)
        if any(getattr(response, name, None) is not None for name in _PER_RESPONSE_CSP):
            return super().process_response(request, response)
        policies = CachedPolicyCSPMiddleware._policies
        if policies is None:
            policies = CachedPolicyCSPMiddleware._policies = (build_policy(), build_policy(report_only=True))
        for header, value, setting, exempt in (
            (HEADER, policies[0], "CONTENT_SECURITY_POLICY", "_csp_exempt"),
            (HEADER_REPORT_ONLY, policies[1], "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro"),
        ):
            if not value or header in response or getattr(response, exempt, False) is not False:
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = value
        if getattr(request, "_csp_nonce", None) is None:
            request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]  # django-csp's attribute
        return response


def _forget_csp_policies(*, setting: str, **kwargs) -> None:  # noqa: ARG001 - signal receiver signature
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        CachedPolicyCSPMiddleware._policies = None


setting_changed.connect(_forget_csp_policies, dispatch_uid="crm.middleware.csp_policies")
