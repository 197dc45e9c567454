"""One permission path: roles -> the grant table -> ``has_permission``; services and selectors
never compare role names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.models import Role
from crm.permissions import RECEIVES_ESCALATIONS, SELLS, has_duty, has_permission, permissions_of
from crm.selectors import staff_of_tenant
from crm.tenancy import tenant_context
from customers.models import Customer
from customers.services import pool as customer_services
from projects.models import Stage
from projects.services.stages import can_move_stage
from tests.customers.factories import CustomerFactory

ROOT = Path(__file__).resolve().parents[2]
APPS = ["crm", "customers", "projects", "aftercare", "referrals", "engagement", "analytics"]
ROLE_CHECK = re.compile(r"has_role\(|\.roles\b|\bRole\.[A-Z_]+")
# User administration writes roles (and mirrors the admin role into Django's is_staff): not a check.
ALLOWED = {"crm/services.py"}


def _rule_modules() -> list[Path]:
    found = []
    for app in APPS:
        for pattern in ("**/services.py", "**/services/*.py", "**/selectors.py", "**/selectors/*.py"):
            found.extend((ROOT / app).glob(pattern))
    return sorted(set(found))


def test_services_and_selectors_never_check_role_names():
    modules = _rule_modules()
    assert any(path.relative_to(ROOT).parts[:2] == ("customers", "services") for path in modules)
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in modules
        if str(path.relative_to(ROOT)) not in ALLOWED
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if ROLE_CHECK.search(line)
    ]
    assert offending == [], "check a declared permission instead:\n" + "\n".join(offending)


@pytest.mark.django_db
def test_admin_may_claim_from_the_pool_like_the_grant_table_says(tenant_a, make_staff):
    admin = make_staff(tenant_a, Role.ADMIN)
    designer = make_staff(tenant_a, Role.DESIGNER)
    assert has_permission(admin, "customers.claim") and not has_permission(designer, "customers.claim")
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        Customer.objects.filter(pk=customer.pk).update(in_pool=True, owner=None, pooled_at=timezone.now())
        customer.refresh_from_db()
        with pytest.raises(ValidationError):
            customer_services.customer_claim_from_pool(tenant=tenant_a, customer=customer, user=designer)
        claim = customer_services.customer_claim_from_pool(tenant=tenant_a, customer=customer, user=admin)
        customer.refresh_from_db()
    assert claim.claimed_by == admin and customer.owner == admin and not customer.in_pool


@pytest.mark.django_db
def test_rosters_come_from_the_table_without_enlisting_admins(tenant_a, make_staff):
    admin = make_staff(tenant_a, Role.ADMIN)
    sales = make_staff(tenant_a, Role.SALES)
    manager = make_staff(tenant_a, Role.MANAGER)
    assert not has_duty(admin, SELLS) and has_duty(sales, SELLS) and not has_duty(manager, SELLS)
    assert staff_of_tenant(tenant=tenant_a, duty=SELLS) == [sales]
    assert staff_of_tenant(tenant=tenant_a, duty=RECEIVES_ESCALATIONS) == [manager]
    with pytest.raises(KeyError):
        has_duty(sales, "customers.undeclared")
    # Duties are not rights: a manager may still mint a token for a salesperson.
    assert SELLS not in permissions_of(sales)


@pytest.mark.django_db
def test_stage_moves_follow_the_table(tenant_a, make_staff):
    admin, designer, pm, sales = (
        make_staff(tenant_a, role) for role in (Role.ADMIN, Role.DESIGNER, Role.PROJECT_MANAGER, Role.SALES)
    )
    design_move = (Stage.MEASUREMENT, Stage.DESIGN)
    build_move = (Stage.DEMOLITION, Stage.PLUMBING_ELECTRICAL)
    assert can_move_stage(admin, *design_move) and can_move_stage(admin, *build_move)
    assert can_move_stage(designer, *design_move) and not can_move_stage(designer, *build_move)
    assert can_move_stage(pm, *build_move) and not can_move_stage(pm, *design_move)
    assert not can_move_stage(sales, *design_move) and not can_move_stage(None, *design_move)
