"""Fetching one object for a user: the order of the checks is the rule.

1. Another tenant's object and a missing one are the same 404 (the tenant-scoped manager cannot
   see the former, so existence never leaks across tenants).
2. Only then, an object of this tenant that the user's role may not touch is 403.

Works for pages and the API alike: ``Http404`` and Django's ``PermissionDenied`` become the API's
404/403 in ``crm.api.exceptions``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy

from crm import extensions
from crm.permissions import has_permission

M = TypeVar("M", bound=Model)

DENIED = gettext_lazy("您的角色无权执行此操作。")


def check_access(
    user, obj: M, *, permission: str = "", allowed: Callable[[object, M], bool] | None = None
) -> M:
    """Raise ``PermissionDenied`` unless ``user`` holds ``permission`` and ``allowed(user, obj)``."""
    if permission and not has_permission(user, permission):
        raise PermissionDenied(DENIED)
    if allowed is not None and not allowed(user, obj):
        raise PermissionDenied(DENIED)
    return obj


def get_for_user_or_404(
    queryset: type[M] | QuerySet[M],
    *,
    user,
    permission: str = "",
    allowed: Callable[[object, M], bool] | None = None,
    **lookup,
) -> M:
    """The object of the current tenant matching ``lookup`` and visible to ``user`` (404 otherwise:
    the registered row narrowers, e.g. another rep's customer's project), if ``user`` may touch it
    (403 otherwise): ``permission`` from the role table, ``allowed`` for a rule about this row."""
    if not isinstance(queryset, QuerySet):
        queryset = queryset._default_manager.all()
    queryset = extensions.narrow_rows_for_user(queryset, user=user)
    return check_access(user, get_object_or_404(queryset, **lookup), permission=permission, allowed=allowed)
