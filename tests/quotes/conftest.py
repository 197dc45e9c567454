from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from crm.models import ApiToken, Role, hash_token
from crm.tenancy import tenant_context


@pytest.fixture
def in_a(tenant_a):
    with tenant_context(tenant_a):
        yield tenant_a


@pytest.fixture
def people(tenant_a, make_staff):
    return {
        "manager": make_staff(tenant_a, Role.MANAGER),
        "sales": make_staff(tenant_a, Role.SALES),
        "designer": make_staff(tenant_a, Role.DESIGNER),
        "pm": make_staff(tenant_a, Role.PROJECT_MANAGER),
    }


@pytest.fixture
def api_as():
    def make(user) -> APIClient:
        plaintext, prefix = ApiToken.generate()
        with tenant_context(user.tenant):
            ApiToken.objects.create(
                tenant=user.tenant, name="test", user=user, prefix=prefix, key_hash=hash_token(plaintext)
            )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {plaintext}")
        return client

    return make
