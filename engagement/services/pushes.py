"""Push rules: decide the audience, hold out a deterministic control group, send exactly once.

- Audience: the rule's saved segment (the customer list's own filters), customer tags, lifecycle.
  Customers without consent on the rule's channel are not in the audience at all.
- Triggers: ``schedule`` rules are run by a beat scan of rules whose ``next_run_at`` is due; event
  rules (a customer gains a tag, a project reaches a stage, the 1-year visit completes) are fired by
  the outbox handlers for the one customer the event names.
- Exactly once per (rule, customer, period) is a database property: the dispatch row's unique
  constraint, inserted in the transaction that decides (and records) the send. A retried task or a
  redelivered event finds the row and sends nothing.
- Control group: ``sha256(rule, customer) mod 100 < control_percent`` — stable across runs, so
  the same customer is always in the same arm; held-out rows are recorded but never sent.
- Frequency cap per customer per 7 days across all rules; quiet hours in the tenant's time zone:
  a scheduled run waits for their end, an event decided in them is sent by the beat after their end.
- Opted-out customers never receive: :func:`engagement.services.sending.marketing_send` refuses.
- E-mail rules: a customer in the audience without an address is recorded ``skipped``
  (``no_address``) — in either arm, so the control group stays comparable — and a later scan of the
  same period sends once the address is on file (the same row changes, under its lock).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Tenant
from customers.models import Customer, Lifecycle, Segment
from engagement.models import (
    ConsentChannel,
    ConsentState,
    ContentItem,
    ContentKind,
    DispatchStatus,
    PushDispatch,
    PushPeriod,
    PushRule,
    PushTrigger,
    SkipReason,
)
from engagement.services.push_batch import RUN_BATCH, _decide_batch
from engagement.services.push_clock import in_control_group, in_quiet_hours, period_key, quiet_hours_end
from engagement.services.sending import (
    NO_ADDRESS,
    SENDABLE_CHANNELS,
    marketing_send,
    public_url,
)
from engagement.services.tracking import track_url
from projects.models import Stage

SCHEDULE_EVERY = datetime.timedelta(hours=1)
RULE_FIELDS = {
    "name",
    "item",
    "channel",
    "segment",
    "audience_tags",
    "audience_lifecycles",
    "period",
    "max_per_customer_per_week",
    "quiet_start",
    "quiet_end",
    "control_percent",
    "trigger",
    "trigger_tag",
    "trigger_stage",
    "is_active",
}


@transaction.atomic
def push_rule_save(*, tenant: Tenant, rule: PushRule | None = None, **values: Any) -> PushRule:
    """Create or update a rule; nothing is written when it is refused.

    A rule needs an item and a sendable channel; a scheduled rule needs audience conditions that
    match at least one opted-in customer now; an event rule needs its tag or stage.
    """
    unknown = set(values) - RULE_FIELDS
    if unknown:
        raise TypeError(f"unknown push rule fields {sorted(unknown)}")
    errors: dict[str, ValidationError] = {}
    item, segment = values.get("item"), values.get("segment")
    tags = [str(t).strip() for t in values.get("audience_tags") or [] if str(t).strip()]
    lifecycles = list(values.get("audience_lifecycles") or [])
    trigger = values.get("trigger") or PushTrigger.SCHEDULE
    trigger_tag = str(values.get("trigger_tag") or "").strip()
    trigger_stage = str(values.get("trigger_stage") or "").strip()
    if not (values.get("name") or "").strip():
        errors["name"] = ValidationError(_("请填写名称。"), code="required")
    if not isinstance(item, ContentItem) or item.tenant_id != tenant.pk:
        errors["item"] = ValidationError(_("请选择要推送的内容。"), code="item_required")
    if values.get("channel") not in SENDABLE_CHANNELS:
        errors["channel"] = ValidationError(_("请选择短信、邮件或微信（专人发送）。"), code="invalid_channel")
    if segment is not None and segment.tenant_id != tenant.pk:
        errors["segment"] = ValidationError(_("分群不存在。"), code="not_found")
    if set(lifecycles) - set(Lifecycle.values):
        errors["audience_lifecycles"] = ValidationError(_("未知的生命周期。"), code="invalid")
    if trigger not in PushTrigger.values:
        errors["trigger"] = ValidationError(_("未知的触发方式。"), code="invalid")
    elif trigger == PushTrigger.SCHEDULE and segment is None and not tags and not lifecycles:
        errors["audience_tags"] = ValidationError(
            _("请设置受众：分群、标签或生命周期。"), code="empty_audience"
        )
    elif trigger == PushTrigger.TAG_ADDED and not trigger_tag:
        errors["trigger_tag"] = ValidationError(_("请填写触发标签。"), code="required")
    elif trigger == PushTrigger.STAGE_REACHED and trigger_stage not in Stage.values:
        errors["trigger_stage"] = ValidationError(_("请选择触发阶段。"), code="required")
    control = values.get("control_percent", 10)
    if not isinstance(control, int) or isinstance(control, bool) or not 0 <= control <= 90:
        errors["control_percent"] = ValidationError(_("对照组比例须在 0–90% 之间。"), code="invalid")
    cap = values.get("max_per_customer_per_week", 2)
    if not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= 50:
        errors["max_per_customer_per_week"] = ValidationError(_("每周上限须在 1–50 之间。"), code="invalid")
    if values.get("period", PushPeriod.ONCE) not in PushPeriod.values:
        errors["period"] = ValidationError(_("未知的频率。"), code="invalid")
    if errors:
        raise ValidationError(errors)
    creating = rule is None
    rule = rule or PushRule(tenant=tenant)
    for field, value in values.items():
        setattr(rule, field, value)
    rule.audience_tags, rule.audience_lifecycles = tags, lifecycles
    rule.trigger = trigger
    rule.trigger_tag = trigger_tag if trigger == PushTrigger.TAG_ADDED else ""
    rule.trigger_stage = trigger_stage if trigger == PushTrigger.STAGE_REACHED else ""
    if trigger == PushTrigger.SCHEDULE and (creating or rule.next_run_at is None):
        rule.next_run_at = timezone.now()
    elif trigger != PushTrigger.SCHEDULE:
        rule.next_run_at = None
    rule.save()
    reachable = push_audience(tenant=tenant, rule=rule)
    if rule.channel == ConsentChannel.EMAIL:
        reachable = reachable.exclude(email="")
    if trigger == PushTrigger.SCHEDULE and not reachable.exists():
        raise ValidationError(
            {
                "audience_tags": ValidationError(
                    _("受众为空：当前没有符合条件且已授权（邮件还须有邮箱地址）的客户。"),
                    code="empty_audience",
                )
            }
        )
    return rule


@transaction.atomic
def content_item_save(
    *,
    tenant: Tenant,
    title: str,
    kind: str,
    summary: str = "",
    url: str = "",
    tags: list[str] | None = None,
    item: ContentItem | None = None,
) -> ContentItem:
    errors: dict[str, ValidationError] = {}
    title = (title or "").strip()
    if not title or len(title) > 100:
        errors["title"] = ValidationError(_("请填写标题（最多 100 个字）。"), code="required")
    if kind not in ContentKind.values:
        errors["kind"] = ValidationError(_("未知的内容类型。"), code="invalid")
    if url and not url.startswith(("https://", "http://")):
        errors["url"] = ValidationError(_("链接必须以 http:// 或 https:// 开头。"), code="invalid")
    if errors:
        raise ValidationError(errors)
    item = item or ContentItem(tenant=tenant)
    item.title, item.kind, item.summary, item.url = title, kind, (summary or "")[:300], url or ""
    item.tags = [str(tag).strip()[:30] for tag in tags or [] if str(tag).strip()][:20]
    item.save()
    return item


def push_audience(*, tenant: Tenant, rule: PushRule) -> QuerySet[Customer]:
    """Customers the rule targets now: its conditions AND an opt-in on its channel (one query)."""
    from customers.filters import CustomerFilter
    from engagement.models import Consent

    customers = Customer.objects.filter(tenant=tenant, anonymised_at__isnull=True, merged_at__isnull=True)
    if rule.segment_id:
        segment = Segment.objects.get(pk=rule.segment_id)
        filterset = CustomerFilter(data=segment.filters, queryset=customers)
        customers = filterset.qs if filterset.is_valid() else customers.none()
    if rule.audience_tags:
        matches = Q()
        for tag in rule.audience_tags:
            matches |= Q(tags__contains=[tag]) | Q(system_tags__contains=[tag])
        customers = customers.filter(matches)
    if rule.audience_lifecycles:
        customers = customers.filter(lifecycle__in=rule.audience_lifecycles)
    opted_in = Consent.objects.filter(tenant=tenant, channel=rule.channel, state=ConsentState.GRANTED)
    return customers.filter(pk__in=opted_in.values("customer_id"))


def push_preview(*, tenant: Tenant, rule: PushRule, now: datetime.datetime | None = None) -> dict:
    """ "Who would receive this now": audience, already decided this period, control, capped."""
    now = now or timezone.now()
    rows = list(push_audience(tenant=tenant, rule=rule).values_list("pk", "email"))
    audience = [pk for pk, _email in rows]
    no_address = {pk for pk, email in rows if not email} if rule.channel == ConsentChannel.EMAIL else set()
    done = set(
        _decided(tenant=tenant, rule=rule, key=period_key(rule, now)).values_list("customer_id", flat=True)
    )
    capped = _capped(tenant=tenant, rule=rule, now=now)
    control = {
        c for c in audience if in_control_group(rule_id=rule.pk, customer_id=c, percent=rule.control_percent)
    }
    excluded = done | capped | control | no_address
    would = [c for c in audience if c not in excluded]
    return {
        "audience": len(audience),
        "control": len(control),
        "already": len(done),
        "capped": len(capped.intersection(audience)),
        "no_address": len(no_address - done),
        "would_send": len(would),
        "quiet_hours": in_quiet_hours(rule, now),
    }


def _decided(*, tenant: Tenant, rule: PushRule, key: str) -> QuerySet[PushDispatch]:
    """This period's final decisions: every row but those skipped for want of an address (a later
    scan sends them once the customer has one)."""
    return PushDispatch.objects.filter(tenant=tenant, rule=rule, period_key=key).exclude(
        status=DispatchStatus.SKIPPED, skip_reason=SkipReason.NO_ADDRESS
    )


def push_preview_customers(*, tenant: Tenant, rule: PushRule, limit: int = 20) -> list[Customer]:
    """A first page of the names behind the preview count (the page shows who, not only how many)."""
    return list(push_audience(tenant=tenant, rule=rule).order_by("-id")[:limit])


def _capped(*, tenant: Tenant, rule: PushRule, now: datetime.datetime) -> set[int]:
    week_ago = now - datetime.timedelta(days=7)
    return set(
        PushDispatch.objects.filter(
            tenant=tenant,
            status__in=[DispatchStatus.SENT, DispatchStatus.PENDING],
            decided_at__gte=week_ago,
        )
        .values("customer_id")
        .annotate(sent=Count("id"))
        .filter(sent__gte=rule.max_per_customer_per_week)
        .values_list("customer_id", flat=True)
    )


def _deliver(*, tenant: Tenant, rule: PushRule, dispatch: PushDispatch, customer: Customer) -> None:
    """Send one decided push with its tracked link; raises ValidationError (opted_out) and sends nothing."""
    item = rule.item
    marketing_send(
        tenant=tenant,
        customer=customer,
        channel=rule.channel,
        title=item.title,
        body=item.summary,
        link=public_url(track_url(tenant_id=tenant.pk, dispatch_id=dispatch.pk)),
        dedupe_key=f"push:{rule.pk}:{customer.pk}:{dispatch.period_key}",
    )


def _decide(
    *,
    tenant: Tenant,
    rule: PushRule,
    customer: Customer,
    key: str,
    now: datetime.datetime,
    capped: bool,
    trigger_ref: str = "",
) -> str | None:
    """Decide one (rule, customer, period): the dispatch row and the send in one transaction.

    Returns the row's new status, or None when nothing was written (already decided, capped,
    opted out in the meantime, still without an address).
    """
    held_out = in_control_group(rule_id=rule.pk, customer_id=customer.pk, percent=rule.control_percent)
    unreachable = rule.channel == ConsentChannel.EMAIL and not customer.email
    if capped and not held_out and not unreachable:
        return None
    send_after = quiet_hours_end(rule, now)
    if unreachable:
        status = DispatchStatus.SKIPPED
    elif held_out:
        status = DispatchStatus.HELD_OUT
    else:
        status = DispatchStatus.PENDING if send_after > now else DispatchStatus.SENT
    values = {
        "held_out": held_out and not unreachable,  # the control group counts reachable customers only
        "decided_at": now,
        "status": status,
        "skip_reason": SkipReason.NO_ADDRESS if unreachable else "",
        "trigger_ref": trigger_ref[:60],
        "send_after": send_after if status == DispatchStatus.PENDING else None,
        "sent_at": now if status == DispatchStatus.SENT else None,
    }
    try:
        with transaction.atomic():
            dispatch = PushDispatch.objects.create(
                tenant=tenant, rule=rule, customer=customer, period_key=key, **values
            )
            if status == DispatchStatus.SENT:
                _deliver(tenant=tenant, rule=rule, dispatch=dispatch, customer=customer)
    except IntegrityError:  # decided before (another run, a retried task, a redelivered event)
        return None if unreachable else _decide_again(tenant, rule, customer, key, values)
    except ValidationError:  # consent withdrawn between audience and send: nothing written
        return None
    return status


def _decide_again(tenant: Tenant, rule: PushRule, customer: Customer, key: str, values: dict) -> str | None:
    """The period's row was skipped for want of an address and the customer has one now: the same
    row is decided again under its lock (still one row, so still at most one send)."""
    try:
        with transaction.atomic():
            dispatch = (
                PushDispatch.objects.select_for_update(of=("self",))
                .filter(
                    tenant=tenant,
                    rule=rule,
                    customer=customer,
                    period_key=key,
                    status=DispatchStatus.SKIPPED,
                    skip_reason=SkipReason.NO_ADDRESS,
                )
                .first()
            )
            if dispatch is None:
                return None
            for field, value in values.items():
                setattr(dispatch, field, value)
            dispatch.save(update_fields=list(values))
            if dispatch.status == DispatchStatus.SENT:
                _deliver(tenant=tenant, rule=rule, dispatch=dispatch, customer=customer)
    except ValidationError:
        return None
    return values["status"]


def push_rule_run(*, tenant: Tenant, rule: PushRule, now: datetime.datetime | None = None) -> dict:
    """Decide and send this period's pushes of ``rule`` to its audience; safe to run any number of times.

    Batches of ``RUN_BATCH`` customers: each is one transaction with a constant number of statements
    (claim the dispatch rows, check consent, queue the SMS in the outbox), so a run costs a few
    statements per batch instead of a transaction per customer. The outbox then sends at the
    provider's pace.
    """
    now = now or timezone.now()
    if not rule.is_active:
        return {"sent": 0, "held_out": 0, "skipped": "inactive"}
    if in_quiet_hours(rule, now):
        return {"sent": 0, "held_out": 0, "skipped": "quiet_hours"}
    key = period_key(rule, now)
    done = _decided(tenant=tenant, rule=rule, key=key).values("customer_id")
    capped = _capped(tenant=tenant, rule=rule, now=now)
    counts: dict[str, int] = {DispatchStatus.SENT: 0, DispatchStatus.HELD_OUT: 0}
    if rule.channel == ConsentChannel.EMAIL:
        # E-mail decides one customer at a time: a customer without an address is recorded as
        # skipped and decided again (same row, under its lock) once they have one (_decide_again).
        waiting = PushDispatch.objects.filter(  # skipped for want of an address and still without one
            tenant=tenant, rule=rule, period_key=key, skip_reason=SkipReason.NO_ADDRESS
        ).values("customer_id")
        recipients = (
            push_audience(tenant=tenant, rule=rule)
            .exclude(pk__in=done)
            .exclude(email="", pk__in=waiting)
            .select_related("owner")
        )
        for customer in recipients.iterator(chunk_size=2000):
            status = _decide(
                tenant=tenant, rule=rule, customer=customer, key=key, now=now, capped=customer.pk in capped
            )
            if status in counts:
                counts[status] += 1
    else:
        # The ids in one plain query, then each batch's rows by primary key: no server-side cursor
        # stays open across the batches' transactions.
        audience_ids = list(
            push_audience(tenant=tenant, rule=rule)
            .exclude(pk__in=done)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        rows = Customer.objects.filter(tenant=tenant).order_by("pk")
        if rule.channel != ConsentChannel.SMS:
            rows = rows.select_related("owner")  # the staff member who forwards it
        for start in range(0, len(audience_ids), RUN_BATCH):
            batch = list(rows.filter(pk__in=audience_ids[start : start + RUN_BATCH]))
            decided = _decide_batch(
                tenant=tenant, rule=rule, customers=batch, key=key, now=now, capped=capped
            )
            for status in decided.values():
                if status in counts:
                    counts[status] += 1
    return {"sent": counts[DispatchStatus.SENT], "held_out": counts[DispatchStatus.HELD_OUT], "skipped": ""}


def push_rule_fire(
    *,
    tenant: Tenant,
    rule: PushRule,
    customer_id: int,
    trigger_ref: str,
    now: datetime.datetime | None = None,
) -> str | None:
    """An event named one customer: push ``rule`` to them if they are in its audience (with consent)."""
    now = now or timezone.now()
    if not rule.is_active:
        return None
    customer = push_audience(tenant=tenant, rule=rule).select_related("owner").filter(pk=customer_id).first()
    if customer is None:
        return None
    capped = customer.pk in _capped(tenant=tenant, rule=rule, now=now)
    return _decide(
        tenant=tenant,
        rule=rule,
        customer=customer,
        key=period_key(rule, now),
        now=now,
        capped=capped,
        trigger_ref=trigger_ref,
    )


def push_rules_fire_event(
    *, tenant: Tenant, trigger: str, customer_id: int, trigger_ref: str, match: str = ""
) -> int:
    """Fire every active rule of ``trigger`` (whose tag/stage equals ``match``) for one customer."""
    rules = PushRule.objects.filter(tenant=tenant, is_active=True, trigger=trigger).select_related(
        "item", "tenant"
    )
    if trigger == PushTrigger.TAG_ADDED:
        rules = rules.filter(trigger_tag=match)
    elif trigger == PushTrigger.STAGE_REACHED:
        rules = rules.filter(trigger_stage=match)
    fired = 0
    for rule in rules.order_by("id"):
        if push_rule_fire(tenant=tenant, rule=rule, customer_id=customer_id, trigger_ref=trigger_ref):
            fired += 1
    return fired


def push_rules_run_due(*, tenant: Tenant, now: datetime.datetime | None = None, limit: int = 50) -> int:
    """Beat: run the scheduled rules whose ``next_run_at`` is due (claimed with SKIP LOCKED, so two
    workers split them), and move each to its next scan — the end of quiet hours if it is quiet."""
    now = now or timezone.now()
    ran = 0
    while ran < limit:
        with transaction.atomic():
            rule = (
                PushRule.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("item", "tenant")
                .filter(tenant=tenant, is_active=True, trigger=PushTrigger.SCHEDULE, next_run_at__lte=now)
                .order_by("next_run_at", "id")
                .first()
            )
            if rule is None:
                break
            push_rule_run(tenant=tenant, rule=rule, now=now)
            quiet_end = quiet_hours_end(rule, now)
            rule.next_run_at = quiet_end if quiet_end > now else now + SCHEDULE_EVERY
            rule.save(update_fields=["next_run_at"])
        ran += 1
    return ran


def push_pending_send_due(*, tenant: Tenant, now: datetime.datetime | None = None, limit: int = 500) -> int:
    """Beat: send the pushes decided during quiet hours once their quiet hours are over.

    Each row is claimed (SKIP LOCKED), sent and marked ``sent`` in one transaction; a customer who
    opted out in the meantime is marked ``skipped`` and receives nothing.
    """
    now = now or timezone.now()
    sent = 0
    for _round in range(limit):
        with transaction.atomic():
            dispatch = (
                PushDispatch.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("rule__item", "rule__tenant", "customer__owner")
                .filter(tenant=tenant, status=DispatchStatus.PENDING, send_after__lte=now)
                .order_by("send_after", "id")
                .first()
            )
            if dispatch is None:
                break
            if in_quiet_hours(dispatch.rule, now):
                dispatch.send_after = quiet_hours_end(dispatch.rule, now)
                dispatch.save(update_fields=["send_after"])
                continue
            try:
                with transaction.atomic():
                    _deliver(tenant=tenant, rule=dispatch.rule, dispatch=dispatch, customer=dispatch.customer)
            except ValidationError as error:
                dispatch.status, dispatch.skip_reason = DispatchStatus.SKIPPED, _skip_reason(error)
            else:
                dispatch.status, dispatch.sent_at = DispatchStatus.SENT, now
                sent += 1
            dispatch.save(update_fields=["status", "sent_at", "skip_reason"])
    return sent


def _skip_reason(error: ValidationError) -> str:
    codes = {each.code for errors in getattr(error, "error_dict", {}).values() for each in errors}
    return SkipReason.NO_ADDRESS if NO_ADDRESS in codes else SkipReason.OPTED_OUT
