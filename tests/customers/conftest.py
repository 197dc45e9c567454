"""Customers fixtures: an API client for any role (the shared token_client needs a manager)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from crm.models import ApiToken, hash_token
from crm.tenancy import tenant_context


def api_client_for(user) -> APIClient:
    """An API client authenticated by a fresh token of ``user``."""
    plaintext, prefix = ApiToken.generate()
    with tenant_context(user.tenant):
        ApiToken.objects.create(
            tenant=user.tenant, name="test", user=user, prefix=prefix, key_hash=hash_token(plaintext)
        )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {plaintext}")
    return client


@pytest.fixture
def api_as():
    return api_client_for
