"""Business writes of the customers module: customers, leads and their SLA, follow-ups, the pool.

Every service takes ``tenant`` first, runs in one transaction and raises
``ValidationError({"field": "中文消息"})`` for bad input, so nothing is half-written.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from collections.abc import Iterable

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from crm import events
from crm.models import Role, Tenant, User
from crm.principal import credential_for_audit
from crm.selectors import staff_of_tenant
from customers.models import (
    HUMAN_FOLLOW_UP_KINDS,
    Activity,
    AuditAction,
    BudgetTier,
    Customer,
    CustomerAuditLog,
    CustomerSettings,
    FollowUp,
    FollowUpKind,
    FollowUpOutcome,
    FollowUpReminder,
    FollowUpStatus,
    FunctionalNeed,
    Intent,
    Lead,
    LeadSlaBreach,
    LeadStatus,
    Lifecycle,
    Loyalty,
    PoolClaim,
    Segment,
    SourceChannel,
    Style,
    ValueTier,
)

# --------------------------------------------------------------------------- phone & settings

PHONE_INVALID = "请输入有效的中国大陆手机号（11 位，以 1 开头）。"


def normalize_phone(raw: str) -> str:
    """A Chinese mobile number in E.164 (``+8613812345678``), or a ``phone`` ValidationError."""
    raw = (raw or "").strip()
    if not raw:
        raise ValidationError({"phone": "请填写手机号。"})
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        raise ValidationError({"phone": PHONE_INVALID})
    mobile_types = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
    if (
        number.country_code != 86
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in mobile_types
    ):
        raise ValidationError({"phone": PHONE_INVALID})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def customer_settings_for(*, tenant: Tenant, lock: bool = False) -> CustomerSettings:
    """The tenant's settings row, created with defaults the first time it is asked for."""
    settings_row, _ = CustomerSettings.objects.get_or_create(tenant=tenant)
    if lock:
        settings_row = CustomerSettings.objects.select_for_update().get(pk=settings_row.pk)
    return settings_row


def hash_intake_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


@transaction.atomic
def intake_key_rotate(*, tenant: Tenant) -> str:
    """Issue a new intake key (the old one stops working). The plaintext is returned once."""
    settings_row = customer_settings_for(tenant=tenant, lock=True)
    prefix = secrets.token_hex(4)
    plaintext = f"ik_{prefix}_{secrets.token_urlsafe(32)}"
    settings_row.intake_key_hash = hash_intake_key(plaintext)
    settings_row.intake_key_prefix = prefix
    settings_row.save(update_fields=["intake_key_hash", "intake_key_prefix"])
    return plaintext


# --------------------------------------------------------------------------- business hours


def _opening(tz, day: datetime.date, settings_row: CustomerSettings) -> datetime.datetime:
    return datetime.datetime.combine(day, settings_row.business_hours_start, tzinfo=tz)


def _closing(tz, day: datetime.date, settings_row: CustomerSettings) -> datetime.datetime:
    return datetime.datetime.combine(day, settings_row.business_hours_end, tzinfo=tz)


def _always_open(settings_row: CustomerSettings) -> bool:
    return settings_row.business_hours_start == settings_row.business_hours_end and len(
        settings_row.business_days or []
    ) in (0, 7)


def sla_clock_start(
    *, tenant: Tenant, settings_row: CustomerSettings, received_at: datetime.datetime
) -> tuple[datetime.datetime, bool]:
    """When the SLA clock starts: at once inside business hours, else at the next opening."""
    if _always_open(settings_row):
        return received_at, False
    tz = tenant.zoneinfo
    local = received_at.astimezone(tz)
    days = set(settings_row.business_days or range(7))
    for offset in range(0, 15):
        day = local.date() + datetime.timedelta(days=offset)
        if day.weekday() not in days:
            continue
        opening, closing = _opening(tz, day, settings_row), _closing(tz, day, settings_row)
        if local < opening:
            return opening, True
        if local < closing:
            return received_at, offset != 0
    return received_at, False  # misconfigured (no business day): never block the clock


def add_business_minutes(
    *, tenant: Tenant, settings_row: CustomerSettings, start: datetime.datetime, minutes: int
) -> datetime.datetime:
    """``start`` (inside business hours) plus ``minutes`` counted only while the shop is open."""
    if _always_open(settings_row):
        return start + datetime.timedelta(minutes=minutes)
    tz = tenant.zoneinfo
    remaining = datetime.timedelta(minutes=minutes)
    current = start.astimezone(tz)
    days = set(settings_row.business_days or range(7))
    for _ in range(400):
        closing = _closing(tz, current.date(), settings_row)
        if current.date().weekday() in days and current < closing:
            current = max(current, _opening(tz, current.date(), settings_row))
            if current + remaining <= closing:
                return current + remaining
            remaining -= closing - current
        next_day = current.date() + datetime.timedelta(days=1)
        current = _opening(tz, next_day, settings_row)
    return start + datetime.timedelta(minutes=minutes)


# --------------------------------------------------------------------------- derived axes


def budget_tier_for(amount: int | None, settings_row: CustomerSettings) -> str:
    if amount is None:
        return BudgetTier.UNKNOWN
    if amount < settings_row.budget_low_below:
        return BudgetTier.LOW
    if amount >= settings_row.budget_high_from:
        return BudgetTier.HIGH
    return BudgetTier.MID


DERIVED_FIELDS = [
    "budget_tier",
    "lifecycle",
    "loyalty",
    "activity",
    "value_amount",
    "value_tier",
    "system_tags",
    "follow_up_status",
    "intent",
]


def derive_axes(
    customer: Customer, *, settings_row: CustomerSettings, now: datetime.datetime | None = None
) -> Customer:
    """Set every derived axis on ``customer`` (not saved) from its stored inputs."""
    now = now or timezone.now()
    customer.budget_tier = budget_tier_for(customer.budget_amount, settings_row)

    if customer.signed_projects >= 2 and customer.project_lifecycle in ("", Lifecycle.SIGNED):
        lifecycle = Lifecycle.REPEAT
    elif customer.project_lifecycle:
        lifecycle = customer.project_lifecycle
    elif customer.signed_projects >= 1:
        lifecycle = Lifecycle.SIGNED
    elif customer.designer_id:
        lifecycle = Lifecycle.DESIGNING
    elif customer.measured_at:
        lifecycle = Lifecycle.MEASURED
    else:
        lifecycle = Lifecycle.LEAD
    customer.lifecycle = lifecycle

    if customer.signed_projects >= 2:
        customer.loyalty = Loyalty.RETURNING
    elif customer.signed_projects == 1:
        customer.loyalty = Loyalty.NEW
    else:
        customer.loyalty = Loyalty.POTENTIAL

    last_touch = customer.last_touch_at or customer.created_at or now
    silent = last_touch < now - datetime.timedelta(days=settings_row.silent_after_days)
    customer.activity = Activity.SILENT if silent else Activity.ACTIVE

    customer.value_amount = customer.contract_total + customer.referral_credit_total // 100
    if (
        customer.is_vip
        or customer.value_amount >= settings_row.value_high_from
        or customer.credited_referrals >= 3
    ):
        customer.value_tier = ValueTier.HIGH
    elif customer.value_amount > 0 or customer.credited_referrals >= 1:
        customer.value_tier = ValueTier.MID
    else:
        customer.value_tier = ValueTier.LOW

    if customer.signed_projects >= 1 and customer.intent != Intent.SIGNED:
        customer.intent = Intent.SIGNED
    if customer.last_touch_at is None:
        customer.follow_up_status = FollowUpStatus.FIRST_CONTACT
    elif silent:
        customer.follow_up_status = FollowUpStatus.DORMANT
    else:
        customer.follow_up_status = FollowUpStatus.FOLLOWING

    tags = []
    if customer.has_children:
        tags.append("亲子家庭")
    if customer.has_elderly:
        tags.append("三代同堂" if customer.has_children else "有老人")
    if customer.has_pets:
        tags.append("宠物家庭")
    if customer.works_from_home:
        tags.append("居家办公")
    if customer.budget_tier == BudgetTier.LOW:
        tags.append("预算敏感型")
    if customer.budget_tier == BudgetTier.HIGH:
        tags.append("高预算")
    if customer.is_vip:
        tags.append("VIP")
    if customer.credited_referrals:
        tags.append("推荐达人" if customer.credited_referrals >= 3 else "有转介绍")
    if customer.loyalty == Loyalty.RETURNING:
        tags.append("老客户")
    customer.system_tags = tags
    return customer


def customer_recompute(
    *, tenant: Tenant, customer: Customer, settings_row: CustomerSettings | None = None, save: bool = True
) -> Customer:
    """Recompute the derived axes after an input changed (also run nightly for time-based ones)."""
    settings_row = settings_row or customer_settings_for(tenant=tenant)
    derive_axes(customer, settings_row=settings_row)
    if save and customer.pk:
        customer.save(update_fields=[*DERIVED_FIELDS, "updated_at"])
    return customer


def customers_recompute_all(*, tenant: Tenant, batch_size: int = 1000) -> int:
    """Nightly: time makes customers silent/dormant; rewrite only rows whose axes changed."""
    settings_row = customer_settings_for(tenant=tenant)
    changed = 0
    last_id = 0
    while True:
        batch = list(Customer.objects.filter(pk__gt=last_id).order_by("pk")[:batch_size])
        if not batch:
            return changed
        dirty = []
        for customer in batch:
            before = [getattr(customer, name) for name in DERIVED_FIELDS]
            derive_axes(customer, settings_row=settings_row)
            if before != [getattr(customer, name) for name in DERIVED_FIELDS]:
                dirty.append(customer)
        if dirty:
            Customer.objects.bulk_update(dirty, DERIVED_FIELDS)
            changed += len(dirty)
        last_id = batch[-1].pk


# --------------------------------------------------------------------------- customers

CUSTOMER_EDITABLE_FIELDS = [
    "name",
    "phone",
    "wechat_id",
    "preferred_contact_time",
    "community",
    "address",
    "city",
    "district",
    "area_sqm",
    "layout",
    "house_condition",
    "customer_type",
    "is_local",
    "has_children",
    "has_elderly",
    "has_pets",
    "cooking_frequency",
    "works_from_home",
    "style_preferences",
    "functional_needs",
    "budget_amount",
    "source_channel",
    "intent",
    "lost_reason",
    "owner",
    "designer",
    "tags",
]


def _check_choices(values: Iterable[str], allowed: list[str], field: str, label: str) -> list[str]:
    values = list(values or [])
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise ValidationError({field: f"未知的{label}：{'、'.join(map(str, unknown))}"})
    return list(dict.fromkeys(values))


def _check_staff(tenant: Tenant, user: User | None, field: str) -> None:
    if user is not None and (user.tenant_id != tenant.pk or not user.is_active):
        raise ValidationError({field: "员工不存在。"})


def _duplicate_phone_error(existing: Customer) -> ValidationError:
    return ValidationError({"phone": f"该手机号已登记为客户「{existing.name}」（#{existing.pk}）。"})


def _apply_fields(tenant: Tenant, customer: Customer, data: dict) -> None:
    """Validate and set editable fields, reporting every bad field at once (forms show them all)."""
    unknown = set(data) - set(CUSTOMER_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "该字段不可修改。"))
    errors: dict[str, list[str]] = {}

    def check(fn, *args) -> object:
        try:
            return fn(*args)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.setdefault(field, []).extend(messages)
            return None

    if "phone" in data:
        data["phone"] = check(normalize_phone, data["phone"]) or customer.phone or ""
    if "name" in data:
        data["name"] = (data["name"] or "").strip()
        if not data["name"]:
            errors["name"] = ["请填写姓名。"]
    if "style_preferences" in data:
        data["style_preferences"] = check(
            _check_choices, data["style_preferences"], Style.values, "style_preferences", "风格"
        )
    if "functional_needs" in data:
        data["functional_needs"] = check(
            _check_choices, data["functional_needs"], FunctionalNeed.values, "functional_needs", "功能需求"
        )
    if "tags" in data:
        data["tags"] = [str(tag).strip()[:20] for tag in data["tags"] or [] if str(tag).strip()]
    if data.get("budget_amount") is not None and int(data["budget_amount"]) < 0:
        errors["budget_amount"] = ["预算不能为负数。"]
        data["budget_amount"] = None
    for field in ("owner", "designer"):
        if field in data:
            check(_check_staff, tenant, data[field], field)
    for name, value in data.items():
        if name not in errors:
            setattr(customer, name, value)
    if customer.intent != Intent.LOST:
        customer.lost_reason = ""
    elif not customer.lost_reason.strip():
        errors["lost_reason"] = ["请填写流失原因。"]
    try:
        customer.full_clean(
            exclude=["tenant", "owner", "designer", *errors],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if "phone" not in errors and customer.phone:
        duplicate = Customer.objects.filter(phone=customer.phone).exclude(pk=customer.pk).first()
        if duplicate is not None:
            errors["phone"] = _duplicate_phone_error(duplicate).message_dict["phone"]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def customer_create(*, tenant: Tenant, created_by: User | None = None, **data) -> Customer:
    """A customer entered by staff (leads arriving from outside go through :func:`lead_create`)."""
    customer = Customer(tenant=tenant)
    if data.get("owner") is None and created_by is not None and created_by.has_role(Role.SALES):
        data["owner"] = created_by  # a sales user's own entry is theirs
    _apply_fields(tenant, customer, data)
    derive_axes(customer, settings_row=customer_settings_for(tenant=tenant))
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        raise _duplicate_phone_error(Customer.objects.get(phone=customer.phone))
    events.publish(events.EventType.CUSTOMER_CREATED, tenant=tenant, customer_id=customer.pk)
    return customer


@transaction.atomic
def customer_update(
    *, tenant: Tenant, customer: Customer, updated_by: User | None = None, **data
) -> Customer:
    if customer.is_anonymised:
        raise ValidationError({"__all__": "该客户已匿名化，不能再修改。"})
    customer = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    _apply_fields(tenant, customer, data)
    derive_axes(customer, settings_row=customer_settings_for(tenant=tenant))
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        raise _duplicate_phone_error(Customer.objects.exclude(pk=customer.pk).get(phone=customer.phone))
    events.publish(
        events.EventType.CUSTOMER_UPDATED, tenant=tenant, customer_id=customer.pk, fields=sorted(data)
    )
    return customer


@transaction.atomic
def customer_apply_project_facts(
    *,
    tenant: Tenant,
    customer: Customer,
    signed_projects: int,
    contract_total: int,
    lifecycle: str | None = None,
) -> Customer:
    """Projects report signing/handover; lifecycle, loyalty and value follow from the facts."""
    if lifecycle is not None and lifecycle not in Lifecycle.values:
        raise ValidationError({"lifecycle": f"未知的生命周期：{lifecycle}"})
    if signed_projects < 0 or contract_total < 0:
        raise ValidationError({"signed_projects": "项目数和合同金额不能为负数。"})
    customer = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    customer.signed_projects = signed_projects
    customer.contract_total = contract_total
    if lifecycle is not None:
        customer.project_lifecycle = lifecycle
    customer_recompute(tenant=tenant, customer=customer, save=False)
    customer.save(
        update_fields=[
            *DERIVED_FIELDS,
            "signed_projects",
            "contract_total",
            "project_lifecycle",
            "updated_at",
        ]
    )
    return customer


@transaction.atomic
def customer_apply_referral_facts(
    *, tenant: Tenant, customer: Customer, credited_referrals: int, referral_credit_total: int, is_vip: bool
) -> Customer:
    """Referrals report credited referrals (credit in fen); value and loyalty reflect them."""
    if credited_referrals < 0 or referral_credit_total < 0:
        raise ValidationError({"credited_referrals": "转介绍数量和奖励不能为负数。"})
    customer = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    customer.credited_referrals = credited_referrals
    customer.referral_credit_total = referral_credit_total
    customer.is_vip = bool(is_vip)
    customer_recompute(tenant=tenant, customer=customer, save=False)
    customer.save(
        update_fields=[*DERIVED_FIELDS, "credited_referrals", "referral_credit_total", "is_vip", "updated_at"]
    )
    return customer


# --------------------------------------------------------------------------- assignment


def on_duty_sales(*, tenant: Tenant) -> list[User]:
    return [user for user in staff_of_tenant(tenant=tenant, role=Role.SALES) if user.is_on_duty]


def next_round_robin(
    *, tenant: Tenant, settings_row: CustomerSettings, exclude: User | None = None
) -> User | None:
    """The on-duty sales user after the last one assigned (caller holds the settings row lock)."""
    candidates = [user for user in on_duty_sales(tenant=tenant) if exclude is None or user.pk != exclude.pk]
    if not candidates:
        return None
    last = settings_row.round_robin_last_user_id or 0
    chosen = next((user for user in candidates if user.pk > last), candidates[0])
    settings_row.round_robin_last_user_id = chosen.pk
    settings_row.save(update_fields=["round_robin_last_user_id"])
    return chosen


# --------------------------------------------------------------------------- leads


@transaction.atomic
def lead_create(
    *,
    tenant: Tenant,
    name: str,
    phone: str,
    source_channel: str,
    received_at: datetime.datetime | None = None,
    note: str = "",
    created_by: User | None = None,
    customer: Customer | None = None,
    referral_code: str = "",
) -> Lead:
    """Record an inquiry: attach to (or create) the customer by phone, start the SLA, assign.

    Publishes ``lead_created`` (``lead_id``, ``customer_id``, ``referral_code``) after commit.
    """
    if source_channel not in SourceChannel.values:
        raise ValidationError({"source_channel": f"未知的来源渠道：{source_channel}"})
    received_at = received_at or timezone.now()
    if timezone.is_naive(received_at):
        raise ValidationError({"received_at": "接收时间必须带时区。"})
    if received_at > timezone.now() + datetime.timedelta(minutes=5):
        raise ValidationError({"received_at": "接收时间不能晚于当前时间。"})
    if customer is not None:
        if customer.tenant_id != tenant.pk:
            raise ValidationError({"customer": "客户不存在。"})
        customer = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    else:
        normalized = normalize_phone(phone)
        name = (name or "").strip()
        if not name:
            raise ValidationError({"name": "请填写姓名。"})
        if len(name) > 50:
            raise ValidationError({"name": "姓名最多 50 个字。"})
        customer = Customer.objects.select_for_update(of=("self",)).filter(phone=normalized).first()
        if customer is None:
            customer = Customer(tenant=tenant, name=name, phone=normalized, source_channel=source_channel)
            try:
                with transaction.atomic():
                    customer.save()
            except IntegrityError:  # created concurrently: attach to the winner
                customer = Customer.objects.select_for_update(of=("self",)).get(phone=normalized)
    if customer.is_anonymised:
        raise ValidationError({"customer": "该客户已匿名化。"})

    settings_row = customer_settings_for(tenant=tenant, lock=True)
    clock_start, outside = sla_clock_start(tenant=tenant, settings_row=settings_row, received_at=received_at)
    due = add_business_minutes(
        tenant=tenant, settings_row=settings_row, start=clock_start, minutes=tenant.lead_response_sla_minutes
    )
    pool_due = add_business_minutes(
        tenant=tenant, settings_row=settings_row, start=clock_start, minutes=settings_row.pool_after_minutes
    )
    owner = (
        customer.owner if customer.owner_id and customer.owner.is_active and not customer.in_pool else None
    )
    assignee = owner
    if assignee is None and settings_row.auto_assign:
        assignee = next_round_robin(tenant=tenant, settings_row=settings_row)
    lead = Lead.objects.create(
        tenant=tenant,
        customer=customer,
        source_channel=source_channel,
        received_at=received_at,
        clock_started_at=clock_start,
        first_response_due_at=due,
        pool_due_at=max(pool_due, due),
        received_outside_hours=outside,
        note=note,
        referral_code=referral_code or "",
        assignee=assignee,
        created_by=created_by,
    )
    if customer.owner_id is None or customer.in_pool:
        customer.owner = assignee
        customer.in_pool = False
        customer.pooled_at = None
        customer.pool_reason = ""
    customer_recompute(tenant=tenant, customer=customer, settings_row=settings_row, save=False)
    customer.save()
    events.publish(
        events.EventType.LEAD_CREATED,
        tenant=tenant,
        lead_id=lead.pk,
        customer_id=customer.pk,
        referral_code=referral_code,
    )
    if assignee is not None:
        events.publish(
            events.EventType.LEAD_ASSIGNED,
            tenant=tenant,
            lead_id=lead.pk,
            customer_id=customer.pk,
            assignee_id=assignee.pk,
        )
    return lead


def _lock_phone(*, tenant: Tenant, phone: str) -> None:
    """Serialize intakes of one phone (transaction-scoped advisory lock): two parallel retries of a
    new customer's inquiry would otherwise both find no lead to merge into."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"intake:{tenant.pk}:{phone}"]
            )


@transaction.atomic
def lead_intake(
    *,
    tenant: Tenant,
    name: str,
    phone: str,
    source_channel: str,
    note: str = "",
    referral_code: str = "",
) -> tuple[Lead, bool]:
    """An inquiry from the public intake: a repeat of the same phone within
    ``CUSTOMERS_INTAKE_MERGE_HOURS`` joins that customer's recent (not pooled) lead, recorded on
    the timeline, so ad platforms that retry don't inflate lead counts or SLA breaches.

    Returns ``(lead, merged)``.
    """
    if source_channel not in SourceChannel.values:
        raise ValidationError({"source_channel": f"未知的来源渠道：{source_channel}"})
    normalized = normalize_phone(phone)
    _lock_phone(tenant=tenant, phone=normalized)
    since = timezone.now() - datetime.timedelta(hours=settings.CUSTOMERS_INTAKE_MERGE_HOURS)
    recent = (
        Lead.objects.select_for_update(of=("self",))
        .filter(customer__phone=normalized, received_at__gte=since)
        .exclude(status=LeadStatus.POOLED)
        .order_by("-received_at", "-id")
        .first()
    )
    if recent is None or recent.customer.is_anonymised:
        lead = lead_create(
            tenant=tenant,
            name=name,
            phone=normalized,
            source_channel=source_channel,
            note=note,
            referral_code=referral_code,
        )
        return lead, False
    content = gettext("重复询盘（来源：%(channel)s），已合并到线索 #%(lead)s。") % {
        "channel": SourceChannel(source_channel).label,
        "lead": recent.pk,
    }
    if note.strip():
        content += gettext("留言：%(note)s") % {"note": note.strip()}
    FollowUp.objects.create(
        tenant=tenant,
        customer=recent.customer,
        author=None,
        kind=FollowUpKind.NOTE,
        content=content,
        occurred_at=timezone.now(),
    )
    return recent, True


def _notify(**kwargs) -> int:
    from crm.notifications.services import notify

    return notify(**kwargs)


def _managers(tenant: Tenant) -> list[User]:
    return staff_of_tenant(tenant=tenant, role=Role.MANAGER)


def lead_sla_scan(*, tenant: Tenant, now: datetime.datetime | None = None, batch_size: int = 500) -> int:
    """Notify each breached lead's assignee and the managers exactly once; optionally reassign.

    Safe under duplicated beats and concurrent workers: due rows are claimed with SKIP LOCKED and
    the decision is the insert of the unique ``LeadSlaBreach`` row in the same transaction.
    """
    now = now or timezone.now()
    breached = 0
    with transaction.atomic():
        leads = list(
            Lead.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=LeadStatus.OPEN, sla_breached=False, first_response_due_at__lte=now)
            .select_related("customer", "assignee")
            .order_by("first_response_due_at")[:batch_size]
        )
        if not leads:
            return 0
        settings_row = customer_settings_for(tenant=tenant, lock=True)
        managers = _managers(tenant)
        for lead in leads:
            try:
                with transaction.atomic():
                    breach = LeadSlaBreach.objects.create(tenant=tenant, lead=lead, assignee=lead.assignee)
            except IntegrityError:
                continue  # another scan decided it first
            lead.sla_breached = True
            recipients = [user for user in [lead.assignee, *managers] if user is not None and user.is_active]
            recipients = list({user.pk: user for user in recipients}.values())
            update_fields = ["sla_breached"]
            if settings_row.reassign_on_breach:
                new_assignee = next_round_robin(
                    tenant=tenant, settings_row=settings_row, exclude=lead.assignee
                )
                if new_assignee is not None:
                    lead.assignee = new_assignee
                    breach.reassigned_to = new_assignee
                    update_fields.append("assignee")
                    Customer.objects.filter(pk=lead.customer_id).update(owner=new_assignee)
                    events.publish(
                        events.EventType.LEAD_ASSIGNED,
                        tenant=tenant,
                        lead_id=lead.pk,
                        customer_id=lead.customer_id,
                        assignee_id=new_assignee.pk,
                    )
                    if new_assignee.pk not in {user.pk for user in recipients}:
                        recipients.append(new_assignee)
            lead.save(update_fields=update_fields)
            overdue_minutes = int((now - lead.first_response_due_at).total_seconds() // 60)
            breach.notified = _notify(
                tenant=tenant,
                recipients=recipients,
                kind="lead_sla_breach",
                title=f"线索超时未响应：{lead.customer.name}",
                body=(
                    f"{lead.get_source_channel_display()}线索已超过首次响应时限 {overdue_minutes} 分钟，"
                    f"负责人：{lead.assignee or '未分配'}。"
                ),
                link=reverse("customers:detail", args=[lead.customer_id]),
                dedupe_key=f"lead-sla-breach:{lead.pk}",
            )
            breach.save(update_fields=["notified", "reassigned_to"])
            events.publish(
                events.EventType.LEAD_SLA_BREACHED,
                tenant=tenant,
                lead_id=lead.pk,
                customer_id=lead.customer_id,
            )
            breached += 1
    return breached


POOLABLE_LIFECYCLES = [Lifecycle.LEAD, Lifecycle.MEASURED, Lifecycle.DESIGNING]


def poolable_customer_q(prefix: str = "") -> Q:
    """Only a customer still in early sales (nothing signed, no project past it) may go to the pool:
    a signed customer's new inquiry stays with its owner even when it goes unanswered."""
    return Q(**{f"{prefix}lifecycle__in": POOLABLE_LIFECYCLES}) & ~Q(**{f"{prefix}intent": Intent.SIGNED})


def lead_pool_scan(*, tenant: Tenant, now: datetime.datetime | None = None) -> int:
    """Second deadline: unanswered leads and long-untouched customers return to the pool (公海)."""
    now = now or timezone.now()
    moved = 0
    with transaction.atomic():
        leads = list(
            Lead.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=LeadStatus.OPEN, pool_due_at__lte=now)
            .filter(poolable_customer_q("customer__"))
            .order_by("pool_due_at")[:500]
        )
        customer_ids = {lead.customer_id for lead in leads}
        for lead in leads:
            lead.status = LeadStatus.POOLED
            lead.assignee = None
        Lead.objects.bulk_update(leads, ["status", "assignee"])
        if customer_ids:
            moved += (
                Customer.objects.filter(pk__in=customer_ids, in_pool=False)
                .filter(poolable_customer_q())
                .update(in_pool=True, owner=None, pooled_at=now, pool_reason="线索超时未响应")
            )
        settings_row = customer_settings_for(tenant=tenant)
        if settings_row.pool_after_idle_days:
            cutoff = now - datetime.timedelta(days=settings_row.pool_after_idle_days)
            moved += (
                Customer.objects.filter(
                    in_pool=False,
                    owner__isnull=False,
                    anonymised_at__isnull=True,
                )
                .filter(poolable_customer_q())
                .exclude(intent=Intent.LOST)
                .filter(Q(last_touch_at__lt=cutoff) | Q(last_touch_at__isnull=True, created_at__lt=cutoff))
                # A claim or a new inquiry restarts the idle period (else the next scan undoes it).
                .exclude(Exists(PoolClaim.objects.filter(customer=OuterRef("pk"), claimed_at__gte=cutoff)))
                .exclude(Exists(Lead.objects.filter(customer=OuterRef("pk"), received_at__gte=cutoff)))
                .update(
                    in_pool=True,
                    owner=None,
                    pooled_at=now,
                    pool_reason=f"{settings_row.pool_after_idle_days} 天无跟进",
                )
            )
    return moved


@transaction.atomic
def customer_claim_from_pool(*, tenant: Tenant, customer: Customer, user: User) -> PoolClaim:
    """First come, first served: the row lock plus a unique claim per pooling make it race-free."""
    if not user.has_role(Role.SALES, Role.MANAGER):
        raise ValidationError({"customer": "只有销售可以从公海领取客户。"})
    locked = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    if not locked.in_pool:
        raise ValidationError({"customer": "该客户已被领取，或不在公海中。"})
    try:
        with transaction.atomic():
            claim = PoolClaim.objects.create(
                tenant=tenant, customer=locked, claimed_by=user, pooled_at=locked.pooled_at
            )
    except IntegrityError:
        raise ValidationError({"customer": "该客户已被领取，或不在公海中。"})
    _take_from_pool(tenant=tenant, customer=locked, user=user, claim=claim)
    locked.save(update_fields=["in_pool", "owner", "pool_reason", "updated_at"])
    return claim


def _take_from_pool(
    *, tenant: Tenant, customer: Customer, user: User, claim: PoolClaim | None = None
) -> PoolClaim:
    """Record the claim (once per pooling) and hand the customer and its pooled leads to ``user``.

    The caller holds the customer row lock and saves ``customer``.
    """
    if claim is None:
        claim = PoolClaim.objects.create(
            tenant=tenant, customer=customer, claimed_by=user, pooled_at=customer.pooled_at
        )
    customer.in_pool = False
    customer.owner = user
    customer.pool_reason = ""
    Lead.objects.filter(customer=customer, status=LeadStatus.POOLED, first_responded_at__isnull=True).update(
        assignee=user
    )
    return claim


# --------------------------------------------------------------------------- follow-ups

FOLLOW_UP_CLOCK_SKEW = datetime.timedelta(minutes=5)
FOLLOW_UP_BACKDATE_LIMIT = datetime.timedelta(days=7)  # a week's site visits can still be written up


@transaction.atomic
def follow_up_create(
    *,
    tenant: Tenant,
    customer: Customer,
    author: User | None,
    kind: str,
    content: str,
    outcome: str = "",
    occurred_at: datetime.datetime | None = None,
    next_follow_up_at: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
) -> FollowUp:
    """Log a touch. A human touch stops the clock of the customer's open leads.

    ``occurred_at`` (when the contact happened) may be back-dated by at most
    ``FOLLOW_UP_BACKDATE_LIMIT`` and lie at most ``FOLLOW_UP_CLOCK_SKEW`` ahead. The lead's first
    response is always the server's recording time (``now``; only demo seeding passes it), so a
    back-dated note cannot flatter response statistics.
    """
    if customer.tenant_id != tenant.pk:
        raise ValidationError({"customer": "客户不存在。"})
    if kind not in FollowUpKind.values:
        raise ValidationError({"kind": f"未知的跟进方式：{kind}"})
    if outcome and outcome not in FollowUpOutcome.values:
        raise ValidationError({"outcome": f"未知的跟进结果：{outcome}"})
    content = (content or "").strip()
    if not content:
        raise ValidationError({"content": "请填写跟进内容。"})
    now = now or timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + FOLLOW_UP_CLOCK_SKEW:
        raise ValidationError({"occurred_at": "跟进时间不能晚于当前时间。"})
    if occurred_at < now - FOLLOW_UP_BACKDATE_LIMIT:
        raise ValidationError(
            {
                "occurred_at": ValidationError(
                    gettext("跟进时间最多只能补记 %(days)s 天前的。")
                    % {"days": FOLLOW_UP_BACKDATE_LIMIT.days},
                    code="follow_up_backdated",
                )
            }
        )
    if next_follow_up_at is not None and next_follow_up_at <= occurred_at:
        raise ValidationError({"next_follow_up_at": "下次跟进时间必须晚于本次跟进时间。"})
    customer = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    if customer.is_anonymised:
        raise ValidationError({"customer": "该客户已匿名化。"})
    follow_up = FollowUp.objects.create(
        tenant=tenant,
        customer=customer,
        author=author,
        kind=kind,
        content=content,
        outcome=outcome,
        occurred_at=occurred_at,
        next_follow_up_at=next_follow_up_at,
    )
    if kind in HUMAN_FOLLOW_UP_KINDS:
        customer.last_touch_at = max(filter(None, [customer.last_touch_at, occurred_at]))
        open_leads = Lead.objects.select_for_update(of=("self",)).filter(
            customer=customer,
            status=LeadStatus.OPEN,
            first_responded_at__isnull=True,
            received_at__lte=occurred_at,  # a back-dated note can't answer a later inquiry
        )
        for lead in open_leads:  # answered when recorded, whatever time the rep typed in
            lead.status = LeadStatus.RESPONDED
            lead.first_responded_at = now
            lead.first_responder = author
            lead.response_seconds = max(0, int((now - lead.clock_started_at).total_seconds()))
            if now > lead.first_response_due_at:
                lead.sla_breached = True
            lead.save(
                update_fields=[
                    "status",
                    "first_responded_at",
                    "first_responder",
                    "response_seconds",
                    "sla_breached",
                ]
            )
    if kind == FollowUpKind.MEASURE and customer.measured_at is None:
        customer.measured_at = occurred_at
    if next_follow_up_at is not None:
        customer.next_follow_up_at = next_follow_up_at
    elif customer.next_follow_up_at and customer.next_follow_up_at <= occurred_at:
        customer.next_follow_up_at = None
    if customer.in_pool and author is not None and author.has_role(Role.SALES):
        _take_from_pool(tenant=tenant, customer=customer, user=author)  # a recorded claim
    customer_recompute(tenant=tenant, customer=customer, save=False)
    customer.save()
    events.publish(
        events.EventType.FOLLOW_UP_CREATED, tenant=tenant, follow_up_id=follow_up.pk, customer_id=customer.pk
    )
    return follow_up


def follow_up_reminder_scan(*, tenant: Tenant, now: datetime.datetime | None = None) -> int:
    """Remind owners of due next-follow-ups, exactly once each (unique FollowUpReminder row)."""
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        due = list(
            FollowUp.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(next_follow_up_at__lte=now, reminded_at__isnull=True)
            .select_related("customer", "customer__owner", "author")
            .order_by("next_follow_up_at")[:500]
        )
        for follow_up in due:
            follow_up.reminded_at = now
            follow_up.save(update_fields=["reminded_at"])
            customer = follow_up.customer
            if customer.next_follow_up_at != follow_up.next_follow_up_at:
                continue  # superseded by a later follow-up's plan
            recipient = customer.owner or follow_up.author
            if recipient is None or not recipient.is_active:
                continue
            try:
                with transaction.atomic():
                    FollowUpReminder.objects.create(tenant=tenant, follow_up=follow_up)
            except IntegrityError:
                continue
            _notify(
                tenant=tenant,
                recipients=[recipient],
                kind="follow_up_due",
                title=f"跟进提醒：{customer.name}",
                body=(
                    f"计划于 {timezone.localtime(follow_up.next_follow_up_at):%m-%d %H:%M} 再次跟进。"
                    f"上次：{follow_up.content[:60]}"
                ),
                link=reverse("customers:detail", args=[customer.pk]),
                dedupe_key=f"follow-up-due:{follow_up.pk}",
            )
            sent += 1
    return sent


# --------------------------------------------------------------------------- segments & privacy


@transaction.atomic
def segment_save(
    *, tenant: Tenant, created_by: User, name: str, filters: dict, segment: Segment | None = None
) -> Segment:
    """Managers save a named filter set; the filters are validated by the list's filterset."""
    from customers.filters import CustomerFilter

    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "请填写分群名称。"})
    if not isinstance(filters, dict):
        raise ValidationError({"filters": "筛选条件格式不正确。"})
    clean = {
        key: value
        for key, value in filters.items()
        if key in CustomerFilter.base_filters and value not in ("", None, [])
    }
    unknown = set(filters) - set(CustomerFilter.base_filters) - {"page", "page_size", "segment"}
    if unknown:
        raise ValidationError({"filters": f"未知的筛选条件：{'、'.join(sorted(unknown))}"})
    form = CustomerFilter(data=clean, queryset=Customer.objects.none()).form
    if not form.is_valid():
        raise ValidationError(
            {"filters": [f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()]}
        )
    duplicate_error = ValidationError({"name": ValidationError("已有同名分群。", code="segment_name_taken")})
    duplicate = Segment.objects.filter(name=name)
    if segment is not None:
        duplicate = duplicate.exclude(pk=segment.pk)
    if duplicate.exists():
        raise duplicate_error
    segment = segment or Segment(tenant=tenant, created_by=created_by)
    segment.name = name
    segment.filters = clean
    try:
        with transaction.atomic():  # the unique constraint decides a concurrent same-name save
            segment.save()
    except IntegrityError as error:
        if "customers_segment_name_uniq" not in str(error):
            raise
        raise duplicate_error from None
    return segment


def audit_log(
    *, tenant: Tenant, actor: User | None, action: str, customer: Customer | None = None, **detail
) -> None:
    detail = {**credential_for_audit(), **detail}  # which API token, if any, and its scopes
    CustomerAuditLog.objects.create(
        tenant=tenant, actor=actor, action=action, customer=customer, detail=detail
    )


@transaction.atomic
def customer_reveal_phone(*, tenant: Tenant, customer: Customer, user: User) -> str:
    """The full number, logged (PIPL): who saw whose phone, when."""
    audit_log(tenant=tenant, actor=user, action=AuditAction.REVEAL_PHONE, customer=customer)
    return customer.phone


@transaction.atomic
def customer_anonymise(*, tenant: Tenant, customer: Customer, user: User) -> Customer:
    """Erase personal fields on request; history (leads, follow-ups, projects) stays, unnamed."""
    customer = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    if customer.is_anonymised:
        return customer
    audit_log(tenant=tenant, actor=user, action=AuditAction.ANONYMISE, customer=customer)
    customer.name = "已匿名客户"
    customer.phone = f"anon-{customer.pk}"
    customer.wechat_id = ""
    customer.preferred_contact_time = ""
    customer.address = ""
    customer.tags = []
    customer.anonymised_at = timezone.now()
    customer.save()
    Lead.objects.filter(customer=customer).update(note="", referral_code="")
    return customer
