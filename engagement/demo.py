"""Demo rows for engagement (idempotent): a lead history rich enough to train on, a trained model,
a campaign with sign-ups and an offer, content items, push rules (one already run, with its control
group; an e-mail rule run for customers who opted in to e-mail, so the demo outbox shows the
e-mails) — and the held-out AUC of each demo tenant's model beside the rules, printed."""

from __future__ import annotations

import datetime
import sys

from django.utils import timezone

from crm.models import Tenant, User
from customers.models import Customer, Lifecycle
from engagement.history import generate_lead_history
from engagement.models import Campaign, ContentItem, LeadScoringModel, PushRule
from engagement.services.campaigns import campaign_save, campaign_signup, offer_save, signup_check_in
from engagement.services.consent import consent_record
from engagement.services.pushes import push_rule_run, push_rule_save
from engagement.services.scoring import lead_scoring_train

HISTORY_LEADS = 1000
CONTENT = [
    ("儿童房安全设计指南", "article", "圆角家具、防滑地面、插座保护：给孩子一个安全的房间。", ["儿童房"]),
    (
        "环保材料清单",
        "material_list",
        "E0 级板材、水性漆、无醛胶：我们工地的用料标准。",
        ["环保材料", "儿童房"],
    ),
    ("适老化改造案例", "design_case", "扶手、无障碍淋浴、夜灯：为父母改造的真实案例。", ["适老化"]),
    ("小户型收纳方案", "design_case", "60 平两居的全屋收纳设计。", ["收纳", "小户型"]),
    ("局部翻新套餐", "offer", "厨卫翻新 15 天完工，老客户专享。", ["局部翻新"]),
]


def seed_demo(*, tenant: Tenant, staff: dict[str, User]) -> None:
    _history_and_model(tenant)
    _campaign(tenant)
    _content_and_rules(tenant, staff)
    _email_rule(tenant)
    record = LeadScoringModel.objects.filter(tenant=tenant).defer("model_bytes").first()
    if record is not None:
        sys.stdout.write(_auc_line(tenant, record) + "\n")


def _auc_line(tenant: Tenant, record: LeadScoringModel) -> str:
    def fmt(value: float | None) -> str:
        return f"{value:.3f}" if value is not None else "—"

    return (
        f"demo tenant {tenant.slug}: lead scoring held-out AUC model {fmt(record.model_auc)} vs rules "
        f"{fmt(record.rules_auc)} (precision@20% {fmt(record.model_precision_top20)} vs "
        f"{fmt(record.rules_precision_top20)}; {record.test_leads} held-out leads) → {record.status}"
    )


def _history_and_model(tenant: Tenant) -> None:
    if LeadScoringModel.objects.filter(tenant=tenant).exists():
        return
    prefix = "+86177"  # + 8 digits: no clash with the other demo phones (+86138…, +86176…)
    if not Customer.objects.filter(phone__startswith=prefix).exists():
        generate_lead_history(
            tenant=tenant, leads=HISTORY_LEADS, signal=True, seed=tenant.pk, phone_prefix=prefix
        )
    lead_scoring_train(tenant=tenant)


def _campaign(tenant: Tenant) -> None:
    if Campaign.objects.filter(tenant=tenant, code="expo-demo").exists():
        return
    today = timezone.localdate()
    campaign = campaign_save(
        tenant=tenant,
        name="秋季家博会",
        code="expo-demo",
        channel="home_expo",
        starts_on=today - datetime.timedelta(days=10),
        ends_on=today + datetime.timedelta(days=20),
        budget_fen=5_000_000,
        spend_fen=3_200_000,
        description="展位 + 现场设计咨询，报名送家电代金券。",
    )
    offer_save(
        tenant=tenant,
        campaign=campaign,
        name="家电代金券 2000 元",
        kind="voucher",
        value_fen=200_000,
        valid_from=campaign.starts_on,
        valid_until=campaign.ends_on + datetime.timedelta(days=60),
        quantity=100,
        terms="签约满 10 万元可用，每户一张。",
    )
    for index in range(6):
        signup = campaign_signup(
            tenant=tenant,
            campaign=campaign,
            name=f"家博会客户{index + 1}",
            phone=f"176{tenant.pk % 100:02d}{index:06d}",
            consent=True,
        )
        if index % 2 == 0:
            signup_check_in(tenant=tenant, signup=signup)


def _content_and_rules(tenant: Tenant, staff: dict[str, User]) -> None:
    if ContentItem.objects.filter(tenant=tenant).exists():
        return
    items = {
        title: ContentItem.objects.create(
            tenant=tenant, title=title, kind=kind, summary=summary, tags=tags, url=""
        )
        for title, kind, summary, tags in CONTENT
    }
    # Families with children from the history opted in on WeChat at the store (staff entry).
    families = list(Customer.objects.filter(tenant=tenant, has_children=True).order_by("-id")[:40])
    for customer in families:
        consent_record(
            tenant=tenant,
            customer=customer,
            channel="wechat",
            state="granted",
            source="staff",
            reason="到店时同意微信接收装修资料",
            actor=staff["sales"],
        )
    Customer.objects.filter(pk__in=[c.pk for c in families]).update(tags=["儿童房"])
    kids = push_rule_save(
        tenant=tenant,
        name="儿童房家庭：安全设计指南",
        item=items["儿童房安全设计指南"],
        channel="wechat",
        audience_tags=["儿童房"],
        control_percent=20,
        quiet_start=datetime.time(0, 0),
        quiet_end=datetime.time(0, 0),
    )
    push_rule_run(tenant=tenant, rule=kids)
    PushRule.objects.filter(pk=kids.pk).update(
        quiet_start=datetime.time(21, 0), quiet_end=datetime.time(9, 0)
    )
    push_rule_save(
        tenant=tenant,
        name="水电阶段：环保材料清单",
        item=items["环保材料清单"],
        channel="wechat",
        trigger="stage_reached",
        trigger_stage="plumbing_electrical",
        control_percent=10,
    )
    push_rule_save(
        tenant=tenant,
        name="1 年回访后：局部翻新套餐",
        item=items["局部翻新套餐"],
        channel="sms",
        trigger="year_visit",
        control_percent=10,
    )


EMAIL_RULE = "邮件：小户型收纳方案"
EMAIL_LIFECYCLES = [Lifecycle.LEAD, Lifecycle.MEASURED, Lifecycle.DESIGNING]


def _email_rule(tenant: Tenant) -> None:
    """Customers with an address who opted in to e-mail at the inquiry form, one opted in without an
    address (recorded as skipped: no address), and an e-mail rule run once."""
    if PushRule.objects.filter(tenant=tenant, name=EMAIL_RULE).exists():
        return
    item = ContentItem.objects.filter(tenant=tenant, title="小户型收纳方案").first()
    if item is None:
        title, kind, summary, tags = next(entry for entry in CONTENT if entry[0] == "小户型收纳方案")
        item = ContentItem.objects.create(tenant=tenant, title=title, kind=kind, summary=summary, tags=tags)
    leads = Customer.objects.filter(tenant=tenant, lifecycle__in=EMAIL_LIFECYCLES, anonymised_at__isnull=True)
    with_address = list(leads.exclude(email="").order_by("id")[:12])
    without_address = list(leads.filter(email="").order_by("id")[:1])
    for customer in with_address + without_address:
        consent_record(
            tenant=tenant,
            customer=customer,
            channel="email",
            state="granted",
            source="intake_form",
            reason="留资表单勾选同意接收邮件",
        )
    if not with_address:
        return  # an older demo database without addresses: nobody to e-mail
    rule = push_rule_save(
        tenant=tenant,
        name=EMAIL_RULE,
        item=item,
        channel="email",
        audience_lifecycles=EMAIL_LIFECYCLES,
        control_percent=10,
        quiet_start=datetime.time(0, 0),
        quiet_end=datetime.time(0, 0),
    )
    push_rule_run(tenant=tenant, rule=rule)
    PushRule.objects.filter(pk=rule.pk).update(
        quiet_start=datetime.time(21, 0), quiet_end=datetime.time(9, 0)
    )
