"""Which credential the current request acts through, for code that has no request (audit entries).

Set once by :class:`crm.middleware.TenantMiddleware` for the request's tenant context; ``None`` for
browser sessions, tasks and management commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm.models import ApiToken

_current_api_token: ContextVar[ApiToken | None] = ContextVar("crm_current_api_token", default=None)


def current_api_token() -> ApiToken | None:
    return _current_api_token.get()


@contextmanager
def acting_via_token(token: ApiToken | None) -> Iterator[None]:
    reset = _current_api_token.set(token)
    try:
        yield
    finally:
        _current_api_token.reset(reset)


def credential_for_audit() -> dict:
    """``{"api_token": {...}}`` when acting through a token (id, prefix, name, scopes), else ``{}``.

    Audit entries merge this in so a reader sees that an action came from an integration and how
    far that integration's token reached.
    """
    token = current_api_token()
    if token is None:
        return {}
    summary = {"id": token.pk, "prefix": token.prefix, "name": token.name, "scopes": list(token.scopes)}
    return {"api_token": summary}
