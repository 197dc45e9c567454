"""Push rules: exactly once per period, opt-out, frequency cap, quiet hours, control group, bad input."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.notifications.models import SmsMessage
from crm.tenancy import tenant_context
from engagement.models import ContentItem, PushDispatch, PushRule
from engagement.services.consent import consent_record
from engagement.services.pushes import in_control_group, push_preview, push_rule_run, push_rule_save
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db
NOON = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(12, 0)))


def _setup(tenant, families: int = 30):
    item = ContentItem.objects.create(
        tenant=tenant, title="儿童房安全设计指南", kind="article", tags=["儿童房"]
    )
    customers = []
    for _ in range(families):
        customer = CustomerFactory(tenant=tenant, tags=["儿童房"])
        consent_record(tenant=tenant, customer=customer, channel="sms", state="granted", source="signup_page")
        customers.append(customer)
    CustomerFactory(tenant=tenant, tags=["儿童房"])  # never opted in: not in the audience
    rule = push_rule_save(
        tenant=tenant,
        name="儿童房指南",
        item=item,
        channel="sms",
        audience_tags=["儿童房"],
        control_percent=20,
    )
    return rule, customers


def test_exactly_once_control_group_and_opt_out(tenant_a):
    with tenant_context(tenant_a):
        rule, customers = _setup(tenant_a)
        preview = push_preview(tenant=tenant_a, rule=rule, now=NOON)
        assert preview["audience"] == 30
        first = push_rule_run(tenant=tenant_a, rule=rule, now=NOON)
        again = push_rule_run(tenant=tenant_a, rule=rule, now=NOON)
        assert again == {"sent": 0, "held_out": 0, "skipped": ""}
        control = {c.pk for c in customers if in_control_group(rule_id=rule.pk, customer_id=c.pk, percent=20)}
        assert 0 < len(control) < 15 and first["held_out"] == len(control)
        assert first["sent"] == 30 - len(control) == preview["would_send"]
        assert SmsMessage.objects.count() == first["sent"]
        assert (
            set(PushDispatch.objects.filter(held_out=True).values_list("customer_id", flat=True)) == control
        )
        assert not SmsMessage.objects.filter(
            phone__in=[c.phone for c in customers if c.pk in control]
        ).exists()
        # Deterministic: the same customers are held out on every evaluation.
        assert control == {
            c.pk for c in customers if in_control_group(rule_id=rule.pk, customer_id=c.pk, percent=20)
        }
        # An opted-out customer receives nothing from a new rule.
        target = next(c for c in customers if c.pk not in control)
        consent_record(
            tenant=tenant_a, customer=target, channel="sms", state="withdrawn", source="opt_out_link"
        )
        other = push_rule_save(
            tenant=tenant_a,
            name="环保材料清单",
            item=rule.item,
            channel="sms",
            audience_tags=["儿童房"],
            control_percent=0,
        )
        push_rule_run(tenant=tenant_a, rule=other, now=NOON)
        assert not PushDispatch.objects.filter(rule=other, customer=target).exists()


def test_frequency_cap_and_quiet_hours(tenant_a):
    with tenant_context(tenant_a):
        rule, customers = _setup(tenant_a, families=3)
        night = NOON.replace(hour=22)
        assert push_rule_run(tenant=tenant_a, rule=rule, now=night)["skipped"] == "quiet_hours"
        assert not PushDispatch.objects.exists()
        PushRule.objects.filter(pk=rule.pk).update(control_percent=0, max_per_customer_per_week=1)
        rule.refresh_from_db()
        assert push_rule_run(tenant=tenant_a, rule=rule, now=NOON)["sent"] == 3
        second = push_rule_save(
            tenant=tenant_a,
            name="收纳",
            item=rule.item,
            channel="sms",
            audience_tags=["儿童房"],
            control_percent=0,
            max_per_customer_per_week=1,
        )
        assert push_rule_run(tenant=tenant_a, rule=second, now=NOON)["sent"] == 0  # capped at 1 per week


def test_bad_rules_are_refused_and_nothing_written(tenant_a):
    with tenant_context(tenant_a):
        item = ContentItem.objects.create(tenant=tenant_a, title="指南", kind="article")
        with pytest.raises(ValidationError) as error:
            push_rule_save(tenant=tenant_a, name="无受众", item=item, channel="sms")
        assert error.value.error_dict["audience_tags"][0].code == "empty_audience"
        with pytest.raises(ValidationError) as error:
            push_rule_save(tenant=tenant_a, name="无内容", item=None, channel="sms", audience_tags=["儿童房"])
        assert "item" in error.value.error_dict
        with pytest.raises(ValidationError) as error:  # nobody opted in matches: empty audience
            push_rule_save(tenant=tenant_a, name="空", item=item, channel="sms", audience_tags=["不存在"])
        assert error.value.error_dict["audience_tags"][0].code == "empty_audience"
        assert not PushRule.objects.exists()
