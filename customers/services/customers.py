"""Customer records: phone normalisation, create/update and facts pushed by downstream apps."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm import events
from crm.models import Tenant, User
from crm.permissions import SELLS, has_duty
from customers.models import (
    Customer,
    FunctionalNeed,
    Intent,
    Lifecycle,
    Style,
)
from customers.services.classification import DERIVED_FIELDS, customer_recompute, derive_axes
from customers.services.settings import customer_settings_for

if TYPE_CHECKING:
    from collections.abc import Callable

PHONE_INVALID = gettext_lazy("请输入有效的中国大陆手机号（11 位，以 1 开头）。")


def normalize_phone(raw: str) -> str:
    """A Chinese mobile number in E.164 (``+8613812345678``), or a ``phone`` ValidationError."""
    raw = (raw or "").strip()
    if not raw:
        raise ValidationError({"phone": _("请填写手机号。")})
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


EMAIL_MAX_LENGTH = 254


def normalize_email(raw: str | None) -> str:
    """An e-mail address trimmed and lower-cased ("" = none), or an ``email`` ValidationError
    with the code ``invalid_email``."""
    email = (raw or "").strip().lower()
    if not email:
        return ""
    invalid = ValidationError(
        {"email": ValidationError(_("请输入有效的邮箱地址，如 name@example.com。"), code="invalid_email")}
    )
    if len(email) > EMAIL_MAX_LENGTH:
        raise invalid
    try:
        validate_email(email)
    except ValidationError:
        raise invalid from None
    return email


CUSTOMER_EDITABLE_FIELDS = [
    "name",
    "phone",
    "email",
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
    "budget_fen",
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
        raise ValidationError(
            {
                field: _("未知的%(label)s：%(values)s")
                % {"label": label, "values": _("、").join(map(str, unknown))}
            }
        )
    return list(dict.fromkeys(values))


def _check_staff(tenant: Tenant, user: User | None, field: str) -> None:
    if user is not None and (user.tenant_id != tenant.pk or not user.is_active):
        raise ValidationError({field: _("员工不存在。")})


def _duplicate_phone_error(existing: Customer) -> ValidationError:
    from customers.dedupe import duplicate_phone_error

    return duplicate_phone_error(existing)


def _duplicate_error_after_race(customer: Customer) -> ValidationError:
    """The unique constraint refused the save (a concurrent create): say which identity is taken."""
    from customers.dedupe import duplicate_wechat_error

    others = Customer.objects.exclude(pk=customer.pk)
    existing = others.filter(phone=customer.phone).first()
    if existing is not None:
        return _duplicate_phone_error(existing)
    existing = others.filter(wechat_id=customer.wechat_id).first() if customer.wechat_id else None
    if existing is not None:
        return duplicate_wechat_error(existing)
    raise  # noqa: PLE0704 - not a duplicate: re-raise the IntegrityError being handled


def _apply_fields(tenant: Tenant, customer: Customer, data: dict) -> None:
    """Validate and set editable fields, reporting every bad field at once (forms show them all)."""
    unknown = set(data) - set(CUSTOMER_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, _("该字段不可修改。")))
    errors: dict[str, list] = {}  # messages, or ValidationErrors that carry a code

    def check(fn: Callable[..., object], *args: object) -> object:
        try:
            return fn(*args)
        except ValidationError as error:
            for field, messages in error.error_dict.items():
                errors.setdefault(field, []).extend(messages)
            return None

    if "phone" in data:
        data["phone"] = check(normalize_phone, data["phone"]) or customer.phone or ""
    if "email" in data:
        email = check(normalize_email, data["email"])
        data["email"] = customer.email if email is None else email
    if "name" in data:
        data["name"] = (data["name"] or "").strip()
        if not data["name"]:
            errors["name"] = [_("请填写姓名。")]
    if "style_preferences" in data:
        data["style_preferences"] = check(
            _check_choices, data["style_preferences"], Style.values, "style_preferences", _("风格")
        )
    if "functional_needs" in data:
        data["functional_needs"] = check(
            _check_choices, data["functional_needs"], FunctionalNeed.values, "functional_needs", _("功能需求")
        )
    if "tags" in data:
        data["tags"] = [str(tag).strip()[:20] for tag in data["tags"] or [] if str(tag).strip()]
    if data.get("budget_fen") is not None and int(data["budget_fen"]) < 0:
        errors["budget_fen"] = [_("预算不能为负数。")]
        data["budget_fen"] = None
    for field in ("owner", "designer"):
        if field in data:
            check(_check_staff, tenant, data[field], field)
    for name, value in data.items():
        if name not in errors:
            setattr(customer, name, value)
    if customer.intent != Intent.LOST:
        customer.lost_reason = ""
    elif not customer.lost_reason.strip():
        errors["lost_reason"] = [_("请填写流失原因。")]
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
            errors["phone"] = _duplicate_phone_error(duplicate).error_dict["phone"]
    if "wechat_id" in data and "wechat_id" not in errors:
        customer.wechat_id = (customer.wechat_id or "").strip()
        if customer.wechat_id:
            from customers.dedupe import duplicate_wechat_error

            duplicate = Customer.objects.filter(wechat_id=customer.wechat_id).exclude(pk=customer.pk).first()
            if duplicate is not None:
                errors["wechat_id"] = duplicate_wechat_error(duplicate).error_dict["wechat_id"]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def customer_create(*, tenant: Tenant, created_by: User | None = None, **data: Any) -> Customer:
    """A customer entered by staff (leads arriving from outside go through :func:`lead_create`)."""
    customer = Customer(tenant=tenant)
    if data.get("owner") is None and has_duty(created_by, SELLS):
        data["owner"] = created_by  # a sales user's own entry is theirs
    _apply_fields(tenant, customer, data)
    derive_axes(customer, settings_row=customer_settings_for(tenant=tenant))
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        raise _duplicate_error_after_race(customer)
    events.publish(events.EventType.CUSTOMER_CREATED, tenant=tenant, customer_id=customer.pk)
    return customer


@transaction.atomic
def customer_update(
    *,
    tenant: Tenant,
    customer: Customer,
    updated_by: User | None = None,  # noqa: ARG001 - actor kept in the service signature
    **data: Any,
) -> Customer:
    if customer.is_anonymised:
        raise ValidationError({"__all__": _("该客户已匿名化，不能再修改。")})
    customer = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    _apply_fields(tenant, customer, data)
    derive_axes(customer, settings_row=customer_settings_for(tenant=tenant))
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        raise _duplicate_error_after_race(customer)
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
    contract_total_fen: int,
    lifecycle: str | None = None,
) -> Customer:
    """Projects report signing/handover; lifecycle, loyalty and value follow from the facts."""
    if lifecycle is not None and lifecycle not in Lifecycle.values:
        raise ValidationError({"lifecycle": _("未知的生命周期：%(value)s") % {"value": lifecycle}})
    if signed_projects < 0 or contract_total_fen < 0:
        raise ValidationError({"signed_projects": _("项目数和合同金额不能为负数。")})
    customer = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    customer.signed_projects = signed_projects
    customer.contract_total_fen = contract_total_fen
    if lifecycle is not None:
        customer.project_lifecycle = lifecycle
    customer_recompute(tenant=tenant, customer=customer, save=False)
    customer.save(
        update_fields=[
            *DERIVED_FIELDS,
            "signed_projects",
            "contract_total_fen",
            "project_lifecycle",
            "updated_at",
        ]
    )
    return customer


@transaction.atomic
def customer_apply_referral_facts(
    *,
    tenant: Tenant,
    customer: Customer,
    credited_referrals: int,
    referral_credit_total_fen: int,
    is_vip: bool,
) -> Customer:
    """Referrals report credited referrals (credit in fen); value and loyalty reflect them."""
    if credited_referrals < 0 or referral_credit_total_fen < 0:
        raise ValidationError({"credited_referrals": _("转介绍数量和奖励不能为负数。")})
    customer = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    customer.credited_referrals = credited_referrals
    customer.referral_credit_total_fen = referral_credit_total_fen
    customer.is_vip = bool(is_vip)
    customer_recompute(tenant=tenant, customer=customer, save=False)
    customer.save(
        update_fields=[
            *DERIVED_FIELDS,
            "credited_referrals",
            "referral_credit_total_fen",
            "is_vip",
            "updated_at",
        ]
    )
    return customer
