"""The yuan → fen data migrations: every tenant's stored amounts × 100 (and back), on PostgreSQL
with row-level security (the platform scope opens the wall for the migration's transaction only).

The operations are the ones the migrations run (``crm.migration_ops.yuan_columns_to_fen`` and the
saved-segment rewrite of ``customers/0007``), applied here to rows of two tenants.
"""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

from crm.migration_ops import yuan_columns_to_fen
from crm.tenancy import platform_scope, tenant_context
from customers.models import Customer, Segment
from projects.models import Project
from tests.customers.factories import CustomerFactory, SegmentFactory
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db

customers_0007 = importlib.import_module("customers.migrations.0007_money_in_fen")


def _run(operation, *, forwards: bool) -> None:
    code = operation.code if forwards else operation.reverse_code
    with connection.schema_editor(atomic=False) as schema_editor:
        code(None, schema_editor)


def _facts():
    with platform_scope(reason="test: read both tenants"):
        return (
            sorted(Project.objects.values_list("contract_number", "contract_amount_fen")),
            sorted(Customer.objects.values_list("name", "budget_fen", "contract_total_fen")),
        )


def test_stored_yuan_become_fen_for_every_tenant_and_back(tenant_a, tenant_b):
    for tenant, number, yuan in ((tenant_a, "A-1", 186_000), (tenant_b, "B-1", 99_999)):
        with tenant_context(tenant):
            customer = CustomerFactory(tenant=tenant, name=number, budget_fen=yuan, contract_total_fen=yuan)
            ProjectFactory(tenant=tenant, customer=customer, contract_number=number, contract_amount_fen=yuan)
    operation = yuan_columns_to_fen(
        {
            "projects_project": ["contract_amount_fen"],
            "customers_customer": ["budget_fen", "contract_total_fen"],
        }
    )
    _run(operation, forwards=True)
    assert _facts() == (
        [("A-1", 18_600_000), ("B-1", 9_999_900)],
        [("A-1", 18_600_000, 18_600_000), ("B-1", 9_999_900, 9_999_900)],
    )
    _run(operation, forwards=False)
    assert _facts() == (
        [("A-1", 186_000), ("B-1", 99_999)],
        [("A-1", 186_000, 186_000), ("B-1", 99_999, 99_999)],
    )


def test_saved_segments_budget_bounds_move_to_the_fen_filter(tenant_a):
    with tenant_context(tenant_a):
        old = SegmentFactory(tenant=tenant_a, filters={"budget_min": "300000", "budget_tier": ["high"]})
        other = SegmentFactory(tenant=tenant_a, filters={"budget_tier": ["low"]})
    operation = customers_0007.Migration.operations[
        next(
            index
            for index, op in enumerate(customers_0007.Migration.operations)
            if getattr(op, "code", None) is not None and "segment" in op.code.__qualname__
        )
    ]
    _run(operation, forwards=True)
    with tenant_context(tenant_a):
        assert Segment.objects.get(pk=old.pk).filters == {
            "budget_min_fen": "30000000",
            "budget_tier": ["high"],
        }
        assert Segment.objects.get(pk=other.pk).filters == {"budget_tier": ["low"]}
    _run(operation, forwards=False)
    with tenant_context(tenant_a):
        assert Segment.objects.get(pk=old.pk).filters == {"budget_min": "300000", "budget_tier": ["high"]}
