"""Sets the current tenant for the whole request from the session user or the API token."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from crm.models import ApiToken, hash_token
from crm.tenancy import platform_scope, tenant_context

TOKEN_KEYWORDS = ("Token", "Bearer")


def token_from_header(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if len(parts) == 2 and parts[0] in TOKEN_KEYWORDS:
        return parts[1]
    return None


def resolve_api_token(plaintext: str) -> ApiToken | None:
    """Find an active token by its hash. Platform code: the tenant is not known yet."""
    with platform_scope("API token authentication"):
        token = (
            ApiToken.objects.select_related("user", "tenant")
            .filter(key_hash=hash_token(plaintext), revoked_at__isnull=True)
            .first()
        )
    if token is None or not token.user.is_active or not token.tenant.is_active:
        return None
    if token.user.tenant_id != token.tenant_id:
        return None
    return token


class TenantMiddleware:
    """Runs the rest of the request inside ``tenant_context`` (one transaction, RLS set locally).

    An error response (status >= 400) rolls the transaction back: a failed request writes nothing.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.api_token = None
        tenant = None
        plaintext = token_from_header(request)
        if plaintext is not None:
            token = resolve_api_token(plaintext)
            if token is not None:
                request.api_token = token
                tenant = token.tenant
        elif request.user.is_authenticated and request.user.tenant_id is not None:
            tenant = request.user.tenant
            if not tenant.is_active:
                tenant = None
        if tenant is None:
            return self.get_response(request)
        with tenant_context(tenant):
            if request.api_token is not None:
                request.api_token.mark_used()
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
