"""``GET /api/v1/``: every collection of the API, found by walking the URL configuration.

Path rule (docs/API.md): collections are flat, ``/api/v1/<collection>/``; a row is
``/<collection>/{id}/``, a command on it ``/<collection>/{id}/<verb>/``. A child is its own
collection filtered by its parent (``/daily-logs/?project=12``), never ``/projects/12/daily-logs/``.
A collection name may carry its module as a prefix (``aftercare/plans``, ``referrals/ledger``).
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from crm.api.permissions import TokenScopePermission


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def collections() -> dict[str, str]:
    """``{collection path: URL name}`` of every list route under ``/api/v1/``."""
    found = {}
    for route, pattern in _walk(get_resolver().url_patterns):
        actions = getattr(pattern.callback, "actions", None) or {}
        if not route.startswith("api/v1/") or actions.get("get") != "list" or "format" in route:
            continue
        path = route.removeprefix("api/v1/").replace("^", "").replace("$", "").rstrip("/")
        if "<" in path or "(?P" in path:
            continue
        found[path] = pattern.name
    return dict(sorted(found.items()))


class ApiRootView(APIView):
    """Every collection, with its URL (deprecated aliases are marked in the schema, not here)."""

    permission_classes = [TokenScopePermission, IsAuthenticated]
    token_scope_exempt = True  # a directory of URLs: any valid token may read it
    schema = None  # a directory, not an operation

    def get(self, request: Request, format: str | None = None) -> Response:  # noqa: A002 - DRF's name
        from crm.api.deprecation import DEPRECATED_PATHS

        return Response(
            {
                path: reverse(name, request=request)
                for path, name in collections().items()
                if path not in DEPRECATED_PATHS
            }
        )
