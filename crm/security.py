"""HTTP hardening that is not about tenancy: caching of personal data.

(The Content-Security-Policy comes from django-csp, configured in ``crm/settings/base.py``.)
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


class NoStoreForAuthenticatedMiddleware:
    """Responses to a signed-in user or an API token are never stored by browsers or proxies.

    Pages, exports and API answers show customers' names and phone numbers: a shared computer's
    back button or disk cache must not keep them after logout. A view that chose its own caching
    (signed media URLs are ``private``) keeps its ``Cache-Control``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        authenticated = bool(user is not None and user.is_authenticated) or bool(
            getattr(request, "api_token", None)
        )
        if authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
        return response
