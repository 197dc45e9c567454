"""Deprecated aliases of renamed collections: still served, marked ``deprecated`` in the schema,
answered with ``Deprecation: true`` and a ``Link`` to the successor (RFC 8594 / RFC 9745)."""

from __future__ import annotations

from typing import Any

#: old collection path -> new one
DEPRECATED_PATHS: dict[str, str] = {"project-stages": "project-stage-history"}


class DeprecatedAliasMixin:
    """Mix into a subclass of the successor's viewset registered under the old path."""

    successor: str = ""

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]  # an APIView's
        response["Deprecation"] = "true"
        response["Link"] = f'</api/v1/{self.successor}/>; rel="successor-version"'
        return response
