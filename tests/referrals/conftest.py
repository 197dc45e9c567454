"""Fixtures for referral tests: a referrer, a referred customer, their referral and a project."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import ApiToken, Role, hash_token
from crm.money import parse_yuan
from crm.tenancy import tenant_context
from customers.models import Customer
from projects.models import Project
from projects.services import contracts as project_contracts
from referrals.models import Referral
from referrals.services import referrals
from tests.customers.factories import CustomerFactory
from tests.projects.factories import ProjectFactory


@dataclass
class Setup:
    tenant: object
    referrer: Customer
    referred: Customer
    referral: Referral
    project: Project
    sales: object
    manager: object


@pytest.fixture
def api_as():
    """An API client acting as any staff user (the shared token_client needs a manager creator)."""

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


@pytest.fixture
def sales_a(tenant_a, make_staff):
    return make_staff(tenant_a, Role.SALES)


@pytest.fixture
def setup(tenant_a, sales_a, manager_a) -> Setup:
    with tenant_context(tenant_a):
        referrer = CustomerFactory(tenant=tenant_a, name="刘雅琴")
        referred = CustomerFactory(tenant=tenant_a, name="周建国")
        referral = referrals.referral_create(
            tenant=tenant_a, referrer=referrer, referred=referred, source="manual", created_by=sales_a
        )
        project = ProjectFactory(tenant=tenant_a, customer=referred)
    return Setup(tenant_a, referrer, referred, referral, project, sales_a, manager_a)


def sign(tenant, project: Project, user, amount_yuan: int = 200_000, number: str | None = None) -> Project:
    """Sign through projects' real service; the contract_signed handler runs on commit."""
    with tenant_context(tenant):
        return project_contracts.contract_sign(
            tenant=tenant,
            project=project,
            signed_by=user,
            contract_number=number or f"HT-{project.pk}",
            contract_amount_fen=parse_yuan(amount_yuan),
            signed_on=timezone.localdate() - datetime.timedelta(days=1),
        )


def new_referral(tenant, referrer: Customer, user) -> tuple[Referral, Project]:
    with tenant_context(tenant):
        referred = CustomerFactory(tenant=tenant)
        referral = referrals.referral_create(
            tenant=tenant, referrer=referrer, referred=referred, source="manual", created_by=user
        )
        return referral, ProjectFactory(tenant=tenant, customer=referred)
