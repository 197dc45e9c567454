"""The login backend for staff: the session's user is loaded with its tenant in one statement."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class TenantUserBackend(ModelBackend):
    """``ModelBackend`` whose ``get_user`` joins the tenant.

    Every page request reads the user (session) and then its tenant (``TenantMiddleware``); two
    statements outside the request transaction became one. Authentication and permissions are
    ModelBackend's unchanged.
    """

    def get_user(self, user_id: Any) -> Any:
        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related("tenant").get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
