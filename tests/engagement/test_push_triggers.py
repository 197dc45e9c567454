"""Push triggers through the outbox (tag gained, stage reached, 1-year visit), the beat scan,
quiet hours in the tenant's time zone, staff tasks, tracked links and pushed-vs-control results."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from crm import events
from crm.extensions import customer_timeline
from crm.notifications.models import Notification, SmsMessage
from crm.tenancy import tenant_context
from customers.services.customers import customer_update
from engagement import tasks
from engagement.models import ContentItem, DispatchStatus, PushDispatch, PushRule
from engagement.selectors import push_rule_results
from engagement.services.consent import consent_record
from engagement.services.pushes import (
    in_control_group,
    push_pending_send_due,
    push_rule_run,
    push_rule_save,
    push_rules_run_due,
)
from engagement.services.sending import marketing_send
from engagement.services.tracking import track_token
from sales.models import Task
from tests.aftercare.factories import PlanKindFactory, VisitFactory
from tests.customers.factories import CustomerFactory
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def _at(hour: int, tz=SHANGHAI) -> datetime.datetime:
    return datetime.datetime.combine(timezone.localdate(), datetime.time(hour, 0), tzinfo=tz)


def _item(tenant, **extra) -> ContentItem:
    return ContentItem.objects.create(
        tenant=tenant, title="儿童房安全设计指南", kind="article", url="https://example.com/kids", **extra
    )


def _customer(tenant, channel="sms", **extra):
    customer = CustomerFactory(tenant=tenant, **extra)
    consent_record(
        tenant=tenant, customer=customer, channel=channel, state="granted", source="staff", reason="t"
    )
    return customer


def test_tag_gained_pushes_once_as_a_staff_task_on_the_timeline(
    tenant_a, sales_a, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_a):
        customer = _customer(tenant_a, channel="wechat", owner=sales_a)
        rule = push_rule_save(
            tenant=tenant_a,
            name="儿童房",
            item=_item(tenant_a),
            channel="wechat",
            trigger="tag_added",
            trigger_tag="儿童房",
            control_percent=0,
            quiet_start=datetime.time(0, 0),
            quiet_end=datetime.time(0, 0),
        )
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a):
        customer_update(tenant=tenant_a, customer=customer, tags=["儿童房"])
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a):
        # The same event delivered again (outbox retry) and another tag change: still once.
        events.publish(
            events.EventType.CUSTOMER_UPDATED, tenant=tenant_a, customer_id=customer.pk, fields=["tags"]
        )
        customer_update(tenant=tenant_a, customer=customer, tags=["儿童房", "收纳"])
    with tenant_context(tenant_a):
        dispatch = PushDispatch.objects.get()
        assert (dispatch.rule_id, dispatch.customer_id, dispatch.status) == (rule.pk, customer.pk, "sent")
        task = Task.objects.get()
        assert task.assignee == sales_a and task.customer == customer and "儿童房安全设计指南" in task.title
        assert track_token(tenant_id=tenant_a.pk, dispatch_id=dispatch.pk) in task.note
        assert "/engagement/u/" in task.note  # the opt-out link to forward
        assert Notification.objects.filter(recipient=sales_a, kind="engagement_push").count() == 1
        entries = [e for e in customer_timeline(tenant=tenant_a, customer_id=customer.pk) if e.kind == "push"]
        assert len(entries) == 1 and "儿童房安全设计指南" in entries[0].title


def test_tag_rule_ignores_other_fields_and_customers_without_consent(
    tenant_a, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_a):
        consenting = _customer(tenant_a, tags=["儿童房"])
        silent = CustomerFactory(tenant=tenant_a)
        push_rule_save(
            tenant=tenant_a,
            name="儿童房",
            item=_item(tenant_a),
            channel="sms",
            trigger="tag_added",
            trigger_tag="儿童房",
            control_percent=0,
            quiet_start=datetime.time(0, 0),
            quiet_end=datetime.time(0, 0),
        )
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a):
        customer_update(tenant=tenant_a, customer=consenting, name="改个名字")
        customer_update(tenant=tenant_a, customer=silent, tags=["儿童房"])  # never opted in
    with tenant_context(tenant_a):
        assert not PushDispatch.objects.exists() and not SmsMessage.objects.exists()


def test_stage_reached_and_year_visit_triggers(tenant_a, make_staff, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
        _customer_consent = consent_record(
            tenant=tenant_a,
            customer=project.customer,
            channel="sms",
            state="granted",
            source="staff",
            reason="t",
        )
        common = {
            "item": _item(tenant_a),
            "channel": "sms",
            "control_percent": 0,
            "quiet_start": datetime.time(0, 0),
            "quiet_end": datetime.time(0, 0),
        }
        stage_rule = push_rule_save(
            tenant=tenant_a,
            name="水电",
            trigger="stage_reached",
            trigger_stage="plumbing_electrical",
            **common,
        )
        year_visit = VisitFactory(tenant=tenant_a)
        three_years = VisitFactory(
            tenant=tenant_a,
            plan__kind=PlanKindFactory(tenant=tenant_a, code="year_3", months_after_handover=36),
        )
        for visit in (year_visit, three_years):
            consent_record(
                tenant=tenant_a,
                customer=visit.customer,
                channel="sms",
                state="granted",
                source="staff",
                reason="t",
            )
        visit_rule = push_rule_save(tenant=tenant_a, name="一年回访", trigger="year_visit", **common)
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a):
        for to_stage in ("masonry", "plumbing_electrical"):
            events.publish(
                events.EventType.PROJECT_STAGE_CHANGED,
                tenant=tenant_a,
                project_id=project.pk,
                customer_id=project.customer_id,
                from_stage="demolition",
                to_stage=to_stage,
            )
        from aftercare.services.visits import visit_complete

        technician = make_staff(tenant_a, "service")
        for visit in (year_visit, three_years):
            visit_complete(tenant=tenant_a, visit=visit, completed_by=technician, customer_confirmed=True)
    with tenant_context(tenant_a):
        stage_pushes = PushDispatch.objects.filter(rule=stage_rule)
        assert list(stage_pushes.values_list("customer_id", flat=True)) == [project.customer_id]
        visit_pushes = PushDispatch.objects.filter(rule=visit_rule)
        assert list(visit_pushes.values_list("customer_id", flat=True)) == [year_visit.customer_id]
        assert SmsMessage.objects.count() == 2


def test_event_in_quiet_hours_waits_in_the_tenant_time_zone(tenant_a):
    tenant_a.timezone = "America/New_York"
    tenant_a.save(update_fields=["timezone"])
    new_york = zoneinfo.ZoneInfo("America/New_York")
    with tenant_context(tenant_a):
        stays, leaves = _customer(tenant_a, tags=["儿童房"]), _customer(tenant_a, tags=["儿童房"])
        rule = push_rule_save(
            tenant=tenant_a,
            name="儿童房",
            item=_item(tenant_a),
            channel="sms",
            trigger="tag_added",
            trigger_tag="儿童房",
            control_percent=0,
        )
        from engagement.services.pushes import push_rule_fire

        # 12:00 in Shanghai is 23:00 or midnight in New York: quiet there.
        noon_shanghai = _at(12)
        for customer in (stays, leaves):
            status = push_rule_fire(
                tenant=tenant_a, rule=rule, customer_id=customer.pk, trigger_ref="t", now=noon_shanghai
            )
            assert status == DispatchStatus.PENDING
        assert not SmsMessage.objects.exists()
        consent_record(
            tenant=tenant_a, customer=leaves, channel="sms", state="withdrawn", source="opt_out_link"
        )
        morning_new_york = datetime.datetime.combine(
            timezone.localtime(noon_shanghai, new_york).date() + datetime.timedelta(days=1),
            datetime.time(9, 30),
            tzinfo=new_york,
        )
        assert push_pending_send_due(tenant=tenant_a, now=morning_new_york - datetime.timedelta(hours=2)) == 0
        assert push_pending_send_due(tenant=tenant_a, now=morning_new_york) == 1
        assert push_pending_send_due(tenant=tenant_a, now=morning_new_york) == 0
        statuses = dict(PushDispatch.objects.values_list("customer_id", "status"))
        assert statuses == {stays.pk: "sent", leaves.pk: "skipped"}
        assert list(SmsMessage.objects.values_list("phone", flat=True)) == [stays.phone]


def test_beat_scan_runs_due_rules_and_a_retried_task_sends_nothing_twice(tenant_a):
    with tenant_context(tenant_a):
        for _ in range(4):
            _customer(tenant_a, tags=["收纳"])
        rule = push_rule_save(
            tenant=tenant_a,
            name="收纳",
            item=_item(tenant_a),
            channel="sms",
            audience_tags=["收纳"],
            control_percent=0,
            quiet_start=datetime.time(0, 0),
            quiet_end=datetime.time(0, 0),
        )
        assert rule.next_run_at is not None
    for _attempt in range(2):  # a redelivered / retried task
        result = tasks.push_scan.apply(kwargs={"tenant_id": tenant_a.pk}).get()
        assert result["pending_sent"] == 0
    with tenant_context(tenant_a):
        assert SmsMessage.objects.count() == 4 == PushDispatch.objects.filter(status="sent").count()
        rule.refresh_from_db()
        assert rule.next_run_at > timezone.now()
        assert push_rules_run_due(tenant=tenant_a) == 0  # not due again yet
        assert push_rule_run(tenant=tenant_a, rule=rule)["sent"] == 0


def test_push_to_an_opted_out_customer_raises_and_sends_nothing(tenant_a):
    with tenant_context(tenant_a):
        customer = _customer(tenant_a)
        consent_record(
            tenant=tenant_a, customer=customer, channel="sms", state="withdrawn", source="opt_out_link"
        )
        with pytest.raises(ValidationError) as error:
            marketing_send(
                tenant=tenant_a, customer=customer, channel="sms", title="t", body="", dedupe_key="k"
            )
        assert error.value.error_dict["customer"][0].code == "opted_out"
        assert not SmsMessage.objects.exists()


def test_tracked_link_records_opens_and_clicks_and_lift_report(tenant_a, client):
    with tenant_context(tenant_a):
        customers = [_customer(tenant_a, tags=["环保材料"]) for _ in range(40)]
        rule = push_rule_save(
            tenant=tenant_a,
            name="环保",
            item=_item(tenant_a),
            channel="sms",
            audience_tags=["环保材料"],
            control_percent=30,
            quiet_start=datetime.time(0, 0),
            quiet_end=datetime.time(0, 0),
        )
        push_rule_run(tenant=tenant_a, rule=rule)
        control = [c for c in customers if in_control_group(rule_id=rule.pk, customer_id=c.pk, percent=30)]
        pushed = [c for c in customers if c not in control]
        assert control and pushed
        sent = PushDispatch.objects.get(rule=rule, customer=pushed[0])
        held = PushDispatch.objects.get(rule=rule, customer=control[0])
        assert held.status == "held_out"
        # The SMS carries the tracked link, not the raw URL.
        token = track_token(tenant_id=tenant_a.pk, dispatch_id=sent.pk)
        assert token in SmsMessage.objects.get(phone=pushed[0].phone).message
        # Hand-built: 3 pushed and 1 control customer sign within 90 days (an older one does not count).
        today = timezone.localdate()
        for customer in pushed[:3] + control[:1]:
            ProjectFactory(tenant=tenant_a, customer=customer, signed_on=today)
        ProjectFactory(tenant=tenant_a, customer=pushed[3], signed_on=today - datetime.timedelta(days=30))
    page = client.get(reverse("engagement:track", args=[token]))
    assert page.status_code == 200 and "儿童房安全设计指南" in page.content.decode()
    click = client.get(reverse("engagement:track-click", args=[token]))
    assert click.status_code == 302 and click["Location"] == "https://example.com/kids"
    forged = client.get(reverse("engagement:track", args=[token[:-2] + "xx"]))
    assert forged.status_code == 404
    held_token = track_token(tenant_id=tenant_a.pk, dispatch_id=held.pk)
    assert client.get(reverse("engagement:track", args=[held_token])).status_code == 404  # never sent
    with tenant_context(tenant_a):
        sent.refresh_from_db()
        assert (sent.open_count, sent.click_count) == (1, 1) and sent.opened_at and sent.clicked_at
        results = push_rule_results(tenant=tenant_a, rule_ids=[rule.pk])[rule.pk]
    assert (results["pushed"], results["control"]) == (len(pushed), len(control))
    assert (results["opened"], results["clicked"]) == (1, 1)
    assert (results["pushed_converted"], results["control_converted"]) == (3, 1)
    expected = round((3 / len(pushed) - 1 / len(control)) * 100, 1)
    assert results["lift_points"] == expected


def test_push_pages_preview_and_bad_input(tenant_a, manager_a, session_client, token_client):
    client = session_client(manager_a)
    created = client.post(
        reverse("engagement:content"),
        {"title": "适老化改造清单", "kind": "material_list", "tags": "适老化，环保材料", "url": ""},
    )
    assert created.status_code == 302
    with tenant_context(tenant_a):
        item = ContentItem.objects.get()
        assert item.tags == ["适老化", "环保材料"]
        names = [_customer(tenant_a, tags=["适老化"]).name for _ in range(3)]
    assert "适老化改造清单" in client.get(reverse("engagement:content")).content.decode()
    form = {
        "name": "适老化",
        "item": item.pk,
        "channel": "sms",
        "trigger": "schedule",
        "audience_tags": "适老化",
        "period": "once",
        "max_per_customer_per_week": 2,
        "quiet_start": "21:00",
        "quiet_end": "09:00",
        "control_percent": 0,
    }
    empty = client.post(reverse("engagement:push-rules"), {**form, "audience_tags": "没人有的标签"})
    assert empty.status_code == 400 and "受众为空" in empty.content.decode()
    no_item = client.post(reverse("engagement:push-rules"), {**form, "item": ""})
    assert no_item.status_code == 400 and "请选择要推送的内容" in no_item.content.decode()
    with tenant_context(tenant_a):
        assert not PushRule.objects.exists()
    created = client.post(reverse("engagement:push-rules"), form)
    assert created.status_code == 302
    detail = client.get(created["Location"]).content.decode()
    assert 'id="preview-count"><strong>3</strong>' in detail and all(name in detail for name in names)
    assert "适老化" in client.get(reverse("engagement:push-rules")).content.decode()
    api = token_client(manager_a)
    bad = api.post(
        "/api/v1/push-rules/", {"name": "x", "channel": "sms", "audience_tags": ["适老化"]}, format="json"
    )
    assert bad.status_code == 400 and "item" in bad.json()["errors"]
    with tenant_context(tenant_a):
        assert PushRule.objects.count() == 1
