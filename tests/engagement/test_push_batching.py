"""A push rule run decides its audience in batches: a constant number of statements per batch
(not a transaction per customer), with the same exactly-once, consent and control-group rules."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.notifications.models import SmsMessage
from crm.tenancy import tenant_context
from customers.models import Customer
from engagement.models import Consent, ContentItem, PushDispatch, PushRule
from engagement.services import pushes
from engagement.services.consent import opt_out_url
from engagement.services.pushes import in_control_group, period_key, push_rule_run
from engagement.services.sending import public_url
from engagement.services.tracking import track_url
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db
NOON = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(12, 0)))


def _audience(tenant, tag: str, count: int) -> list[Customer]:
    customers = [CustomerFactory(tenant=tenant, tags=[tag]) for _ in range(count)]
    Consent.objects.bulk_create(
        [
            Consent(
                tenant=tenant,
                customer=customer,
                channel="sms",
                state="granted",
                source="staff",
                version="test",
                changed_at=timezone.now(),
            )
            for customer in customers
        ]
    )
    return customers


def _rule(tenant, tag: str, control_percent: int = 0) -> PushRule:
    item = ContentItem.objects.create(tenant=tenant, title=f"{tag}指南", kind="article", summary="要点")
    return PushRule.objects.create(
        tenant=tenant,
        name=tag,
        item=item,
        channel="sms",
        audience_tags=[tag],
        control_percent=control_percent,
        max_per_customer_per_week=5,
    )


def _run_statements(tenant, rule) -> tuple[dict, int]:
    with CaptureQueriesContext(connection) as queries:
        result = push_rule_run(tenant=tenant, rule=rule, now=NOON)
    return result, len(queries)


def test_statements_per_run_do_not_grow_with_the_audience(tenant_a, monkeypatch):
    with tenant_context(tenant_a):
        _audience(tenant_a, "small", 5)
        _audience(tenant_a, "large", 60)
        small, small_statements = _run_statements(tenant_a, _rule(tenant_a, "small"))
        large, large_statements = _run_statements(tenant_a, _rule(tenant_a, "large"))
        assert (small["sent"], large["sent"]) == (5, 60)
        assert large_statements == small_statements  # one batch either way
        assert SmsMessage.objects.count() == 65
        # Batches of 20: 60 customers are 3 batches; each batch costs the same few statements.
        monkeypatch.setattr(pushes, "RUN_BATCH", 20)
        _audience(tenant_a, "batched", 60)
        batched, batched_statements = _run_statements(tenant_a, _rule(tenant_a, "batched"))
        assert batched["sent"] == 60
        per_batch = (batched_statements - small_statements) / 2
        assert per_batch == int(per_batch) and 0 < per_batch <= 8, (small_statements, batched_statements)
        assert SmsMessage.objects.count() == 125
        # Every SMS names its tracked link and the customer's own opt-out link, as a single send would.
        dispatch = PushDispatch.objects.filter(status="sent").select_related("customer").first()
        sms = SmsMessage.objects.get(dedupe_key=f"push:{dispatch.rule_id}:{dispatch.customer_id}:once")
        assert track_url(tenant_id=tenant_a.pk, dispatch_id=dispatch.pk) in sms.message
        assert sms.message.endswith(
            "退订："
            + public_url(opt_out_url(tenant=tenant_a, customer_id=dispatch.customer_id, channel="sms"))
        )
        assert sms.phone == dispatch.customer.phone


def test_batch_keeps_exactly_once_control_group_and_consent(tenant_a, monkeypatch):
    monkeypatch.setattr(pushes, "RUN_BATCH", 7)
    with tenant_context(tenant_a):
        customers = _audience(tenant_a, "儿童房", 30)
        rule = _rule(tenant_a, "儿童房", control_percent=30)
        control = {c.pk for c in customers if in_control_group(rule_id=rule.pk, customer_id=c.pk, percent=30)}
        first = push_rule_run(tenant=tenant_a, rule=rule, now=NOON)
        assert first == {"sent": 30 - len(control), "held_out": len(control), "skipped": ""}
        assert push_rule_run(tenant=tenant_a, rule=rule, now=NOON) == {
            "sent": 0,
            "held_out": 0,
            "skipped": "",
        }
        assert PushDispatch.objects.filter(rule=rule).count() == 30
        assert SmsMessage.objects.count() == 30 - len(control)
        # Consent withdrawn after the audience was read: the batch writes nothing for that customer.
        late = _audience(tenant_a, "新规则", 3)
        other = _rule(tenant_a, "新规则")
        Consent.objects.filter(customer=late[1]).update(state="withdrawn")
        decided = pushes._decide_batch(
            tenant=tenant_a, rule=other, customers=late, key=period_key(other, NOON), now=NOON, capped=set()
        )
        assert set(decided) == {late[0].pk, late[2].pk}
        assert not PushDispatch.objects.filter(rule=other, customer=late[1]).exists()
        assert not SmsMessage.objects.filter(phone=late[1].phone).exists()
        # A capped customer outside the control group is not decided at all.
        capped = pushes._decide_batch(
            tenant=tenant_a, rule=other, customers=[late[1]], key="x", now=NOON, capped={late[1].pk}
        )
        assert capped == {}
