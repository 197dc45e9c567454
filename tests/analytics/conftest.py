"""A small hand-built month (March 2025, Asia/Shanghai) whose every figure is worked out by hand.

People: sales s1, s2; project managers pm1, pm2; a designer.
Customers (created_at, tenant time):
  c1 03-01 10:00 douyin  s1  touched 10:10, measured 03-03 10:00, project p1: design 03-05,
                             quotation 03-09, signed 03-11 (200 000 元), change order +20 000 (03-20)
  c2 03-31 23:59 douyin  s1  touched 04-01 00:30 (April)
  c3 04-01 00:00 douyin  s1  (April: outside March)
  c4 03-15 12:00 wechat  s2  designer assigned, never touched
  c7 03-01 00:30 website s2  touched 00:40 (Feb 28 16:30 UTC, but March in Shanghai)
  c5 02-20 12:00 douyin  s1  (previous period)
  c6 02-28 23:59 douyin  s1  (previous period)
  c8 2024-06-01  website s2  project p2 (pm2) in masonry since 04-05, inspection 03-25: 3 of 4
                             items passed, one open rectification
Leads: L1 c1 5 min · L2 c2 30 min, late · L4 c4 unanswered, past due · L7 c7 10 min.
"""

from __future__ import annotations

import datetime
import zoneinfo
from types import SimpleNamespace

import pytest

from analytics.models import ChannelSpend, SalesTarget
from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer, FollowUp, Lead
from projects.models import (
    ChangeOrder,
    Inspection,
    InspectionItem,
    Project,
    Rectification,
    Stage,
    StageHistory,
)
from tests.customers.factories import CustomerFactory

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2025, 4, 10, 12, 0, tzinfo=SH)
TODAY = NOW.date()


def at(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2025) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SH)


def _customer(tenant, name, created, channel, owner, **extra) -> Customer:
    customer = CustomerFactory(tenant=tenant, name=name, source_channel=channel, owner=owner, **extra)
    Customer.objects.filter(pk=customer.pk).update(created_at=created)
    customer.refresh_from_db()
    return customer


def _lead(tenant, customer, received, assignee, *, seconds=None, late=False):
    due = received + datetime.timedelta(minutes=15)
    responded = received + datetime.timedelta(seconds=seconds) if seconds is not None else None
    return Lead.objects.create(
        tenant=tenant,
        customer=customer,
        source_channel=customer.source_channel,
        received_at=received,
        clock_started_at=received,
        first_response_due_at=due,
        pool_due_at=due + datetime.timedelta(hours=2),
        status="responded" if responded else "open",
        assignee=assignee,
        first_responded_at=responded,
        response_seconds=seconds,
        sla_breached=late,
    )


def _touch(tenant, customer, author, when, kind="call"):
    FollowUp.objects.create(
        tenant=tenant, customer=customer, author=author, kind=kind, content="沟通", occurred_at=when
    )
    Customer.objects.filter(pk=customer.pk).update(last_touch_at=when)


def _history(tenant, project, stages):
    previous = ""
    for stage, when in stages:
        StageHistory.objects.create(
            tenant=tenant, project=project, from_stage=previous, to_stage=stage, changed_at=when
        )
        previous = stage


def build_month(tenant, make_staff) -> SimpleNamespace:
    s1 = make_staff(tenant, Role.SALES, display_name="销售甲")
    s2 = make_staff(tenant, Role.SALES, display_name="销售乙")
    pm1 = make_staff(tenant, Role.PROJECT_MANAGER, display_name="项目经理甲")
    pm2 = make_staff(tenant, Role.PROJECT_MANAGER, display_name="项目经理乙")
    designer = make_staff(tenant, Role.DESIGNER, display_name="设计师甲")
    with tenant_context(tenant):
        c1 = _customer(
            tenant,
            "客户一",
            at(3, 1, 10),
            "douyin",
            s1,
            measured_at=at(3, 3, 10),
            contract_total_fen=200_000,
            signed_projects=1,
        )
        c2 = _customer(tenant, "客户二", at(3, 31, 23, 59), "douyin", s1)
        c3 = _customer(tenant, "客户三", at(4, 1, 0, 0), "douyin", s1)
        c4 = _customer(tenant, "客户四", at(3, 15, 12), "wechat", s2, designer=designer)
        c7 = _customer(tenant, "客户七", at(3, 1, 0, 30), "website", s2)
        c5 = _customer(tenant, "客户五", at(2, 20, 12), "douyin", s1)
        c6 = _customer(tenant, "客户六", at(2, 28, 23, 59), "douyin", s1)
        c8 = _customer(tenant, "客户八", at(6, 1, year=2024), "website", s2)
        _touch(tenant, c1, s1, at(3, 1, 10, 10))
        _touch(tenant, c2, s1, at(4, 1, 0, 30))
        _touch(tenant, c7, s2, at(3, 1, 0, 40))
        _lead(tenant, c1, at(3, 1, 10), s1, seconds=300)
        _lead(tenant, c2, at(3, 31, 23, 59), s1, seconds=1800, late=True)
        _lead(tenant, c4, at(3, 15, 12), s2)
        _lead(tenant, c7, at(3, 1, 0, 30), s2, seconds=600)
        p1 = Project.objects.create(
            tenant=tenant, customer=c1, name="p1", project_manager=pm1, designer=designer,
            stage=Stage.CONTRACT_SIGNED, stage_entered_at=at(3, 11, 10), signed_on=datetime.date(2025, 3, 11),
            contract_number="HT-1", contract_amount_fen=200_000,
        )  # fmt: skip
        _history(
            tenant,
            p1,
            [
                (Stage.CONSULTATION, at(3, 4, 10)),
                (Stage.DESIGN, at(3, 5, 10)),
                (Stage.QUOTATION, at(3, 9, 10)),
                (Stage.CONTRACT_SIGNED, at(3, 11, 10)),
            ],
        )
        ChangeOrder.objects.create(
            tenant=tenant, project=p1, number=1, title="加插座", reason="业主要求", status="approved",
            amount_delta_fen=20_000, decided_at=at(3, 20),
        )  # fmt: skip
        p2 = Project.objects.create(
            tenant=tenant, customer=c8, name="p2", project_manager=pm2, stage=Stage.MASONRY,
            stage_entered_at=at(4, 5),
        )  # fmt: skip
        inspection = Inspection.objects.create(
            tenant=tenant, project=p2, inspected_on=datetime.date(2025, 3, 25)
        )
        items = [
            InspectionItem.objects.create(
                tenant=tenant, inspection=inspection, title=f"项{index}", passed=index < 3
            )
            for index in range(4)
        ]
        Rectification.objects.create(
            tenant=tenant, project=p2, item=items[3], description="防水上翻", due_on=datetime.date(2025, 4, 1)
        )
        SalesTarget.objects.create(
            tenant=tenant, user=s1, month=datetime.date(2025, 3, 1), contract_value_fen=400_000
        )
        ChannelSpend.objects.create(
            tenant=tenant, channel="douyin", month=datetime.date(2025, 3, 1), amount_fen=31_000
        )
    return SimpleNamespace(**locals())


@pytest.fixture
def month_a(tenant_a, make_staff):
    return build_month(tenant_a, make_staff)


@pytest.fixture
def march():
    return {"range": "custom", "start": "2025-03-01", "end": "2025-03-31"}


@pytest.fixture
def api_as():
    """An API client acting as any user (the shared ``token_client`` needs a manager to mint)."""
    from rest_framework.test import APIClient

    from crm.models import ApiToken, hash_token

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


@pytest.fixture(autouse=True)
def _no_cached_panels():
    """Panels are cached per tenant for minutes (analytics/cache.py); each test starts with none."""
    from django.core.cache import cache

    from analytics.cache import KEY_PREFIX

    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"*{KEY_PREFIX}:*", count=1000))
    if keys:
        client.delete(*keys)
