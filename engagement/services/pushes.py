"""Push rules: decide the audience, hold out a deterministic control group, send exactly once.

- Audience: the rule's saved segment (the customer list's own filters), customer tags, lifecycle.
  Customers without consent on the rule's channel are not in the audience at all.
- Exactly once per (rule, customer, period) is a database property: the dispatch row's unique
  constraint, inserted in the transaction that decides the send.
- Control group: ``sha256(rule, customer) mod 100 < control_percent`` — stable across runs, so
  the same customer is always in the same arm; held-out rows are recorded but never sent.
- Frequency cap per customer per 7 days across all rules; quiet hours (tenant time) send nothing.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Tenant
from customers.models import Customer, Lifecycle, Segment
from engagement.models import ConsentState, ContentItem, PushDispatch, PushPeriod, PushRule
from engagement.services.sending import SENDABLE_CHANNELS, marketing_send


@transaction.atomic
def push_rule_save(*, tenant: Tenant, rule: PushRule | None = None, **values: Any) -> PushRule:
    """Create or update a rule; a rule needs an item, a sendable channel and a non-empty audience."""
    errors: dict[str, ValidationError] = {}
    item, segment = values.get("item"), values.get("segment")
    tags = [str(t).strip() for t in values.get("audience_tags") or [] if str(t).strip()]
    lifecycles = list(values.get("audience_lifecycles") or [])
    if not (values.get("name") or "").strip():
        errors["name"] = ValidationError(_("请填写名称。"), code="required")
    if not isinstance(item, ContentItem) or item.tenant_id != tenant.pk:
        errors["item"] = ValidationError(_("请选择要推送的内容。"), code="item_required")
    if values.get("channel") not in SENDABLE_CHANNELS:
        errors["channel"] = ValidationError(_("请选择短信或微信（专人发送）。"), code="invalid_channel")
    if segment is not None and segment.tenant_id != tenant.pk:
        errors["segment"] = ValidationError(_("分群不存在。"), code="not_found")
    if set(lifecycles) - set(Lifecycle.values):
        errors["audience_lifecycles"] = ValidationError(_("未知的生命周期。"), code="invalid")
    if segment is None and not tags and not lifecycles:
        errors["audience_tags"] = ValidationError(
            _("请设置受众：分群、标签或生命周期。"), code="empty_audience"
        )
    control = values.get("control_percent", 10)
    if not isinstance(control, int) or not 0 <= control <= 90:
        errors["control_percent"] = ValidationError(_("对照组比例须在 0–90% 之间。"), code="invalid")
    if values.get("period", PushPeriod.ONCE) not in PushPeriod.values:
        errors["period"] = ValidationError(_("未知的频率。"), code="invalid")
    if errors:
        raise ValidationError(errors)
    rule = rule or PushRule(tenant=tenant)
    for field, value in values.items():
        setattr(rule, field, value)
    rule.audience_tags, rule.audience_lifecycles = tags, lifecycles
    rule.save()
    if not push_audience(tenant=tenant, rule=rule).exists():
        raise ValidationError(
            {
                "audience_tags": ValidationError(
                    _("受众为空：当前没有符合条件且已授权的客户。"), code="empty_audience"
                )
            }
        )
    return rule


def push_audience(*, tenant: Tenant, rule: PushRule) -> QuerySet[Customer]:
    """Customers the rule targets now: its conditions AND an opt-in on its channel (one query)."""
    from customers.filters import CustomerFilter
    from engagement.models import Consent

    customers = Customer.objects.filter(tenant=tenant, anonymised_at__isnull=True)
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


def in_control_group(*, rule_id: int, customer_id: int, percent: int) -> bool:
    digest = hashlib.sha256(f"push-control:{rule_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent


def period_key(rule: PushRule, now: datetime.datetime) -> str:
    local = timezone.localtime(now)
    if rule.period == PushPeriod.MONTHLY:
        return local.strftime("%Y-%m")
    if rule.period == PushPeriod.WEEKLY:
        year, week, _day = local.isocalendar()
        return f"{year}-W{week:02d}"
    return "once"


def in_quiet_hours(rule: PushRule, now: datetime.datetime) -> bool:
    local = timezone.localtime(now).time()
    start, end = rule.quiet_start, rule.quiet_end
    return (start <= local or local < end) if start > end else (start <= local < end)


def push_preview(*, tenant: Tenant, rule: PushRule, now: datetime.datetime | None = None) -> dict:
    """ "Who would receive this now": audience, already sent this period, control, capped."""
    now = now or timezone.now()
    audience = list(push_audience(tenant=tenant, rule=rule).values_list("pk", flat=True))
    done = set(
        PushDispatch.objects.filter(rule=rule, period_key=period_key(rule, now)).values_list(
            "customer_id", flat=True
        )
    )
    capped = _capped(tenant=tenant, rule=rule, now=now)
    control = [
        c for c in audience if in_control_group(rule_id=rule.pk, customer_id=c, percent=rule.control_percent)
    ]
    would = [c for c in audience if c not in done and c not in capped and c not in set(control)]
    return {
        "audience": len(audience),
        "control": len(control),
        "already": len(done),
        "capped": len(capped & set(audience)),
        "would_send": len(would),
    }


def _capped(*, tenant: Tenant, rule: PushRule, now: datetime.datetime) -> set[int]:
    week_ago = now - datetime.timedelta(days=7)
    return set(
        PushDispatch.objects.filter(tenant=tenant, held_out=False, decided_at__gte=week_ago)
        .values("customer_id")
        .annotate(sent=Count("id"))
        .filter(sent__gte=rule.max_per_customer_per_week)
        .values_list("customer_id", flat=True)
    )


def push_rule_run(*, tenant: Tenant, rule: PushRule, now: datetime.datetime | None = None) -> dict:
    """Decide and send this period's pushes of ``rule``; safe to run any number of times."""
    now = now or timezone.now()
    if not rule.is_active or in_quiet_hours(rule, now):
        return {"sent": 0, "held_out": 0, "skipped": "quiet_hours" if rule.is_active else "inactive"}
    key = period_key(rule, now)
    done = set(PushDispatch.objects.filter(rule=rule, period_key=key).values_list("customer_id", flat=True))
    capped = _capped(tenant=tenant, rule=rule, now=now)
    sent = held = 0
    item = rule.item
    for customer in push_audience(tenant=tenant, rule=rule).exclude(pk__in=done).select_related("owner"):
        held_out = in_control_group(rule_id=rule.pk, customer_id=customer.pk, percent=rule.control_percent)
        if not held_out and customer.pk in capped:
            continue
        try:
            with transaction.atomic():
                PushDispatch.objects.create(
                    tenant=tenant,
                    rule=rule,
                    customer=customer,
                    period_key=key,
                    held_out=held_out,
                    decided_at=now,
                )
                if not held_out:
                    marketing_send(
                        tenant=tenant,
                        customer=customer,
                        channel=rule.channel,
                        title=item.title,
                        body=item.summary,
                        link=item.url,
                        dedupe_key=f"push:{rule.pk}:{customer.pk}:{key}",
                    )
        except IntegrityError:  # another run decided this customer first
            continue
        except ValidationError:  # consent withdrawn between audience and send: nothing written
            continue
        if held_out:
            held += 1
        else:
            sent += 1
    return {"sent": sent, "held_out": held, "skipped": ""}
