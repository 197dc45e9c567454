"""Campaigns and offers: save with validation, public sign-up (lead + consent), check-in, redemption.

Money is integer fen, as everywhere (``crm.money``).
"""

from __future__ import annotations

import datetime
import re

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from customers.models import Customer, Lead, Segment, SourceChannel
from customers.services.customers import normalize_email, normalize_phone
from customers.services.leads import lead_create
from engagement.models import (
    Campaign,
    CampaignSignup,
    ConsentChannel,
    ConsentSource,
    ConsentState,
    Offer,
    OfferKind,
    Redemption,
    SignupSource,
)
from engagement.services.consent import consent_record
from projects.models import Project
from quotes.models import Package, Quotation, QuotationStatus
from quotes.services.offers import quotation_apply_offer, quotation_offer_blocker

SIGNUP_SALT = "engagement.campaign_signup"
CODE_PATTERN = re.compile(r"[a-z0-9_-]{1,32}")
MAX_FEN = 10**12  # ten billion yuan: beyond any campaign, below the column limit


def _money(errors: dict, field: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_FEN:
        errors[field] = ValidationError(
            _("金额必须是 0 到 100 亿元之间的整数（分）。"), code="invalid_amount"
        )
        return 0
    return value


@transaction.atomic
def campaign_save(
    *,
    tenant: Tenant,
    name: str,
    channel: str,
    starts_on: datetime.date,
    ends_on: datetime.date,
    budget_fen: int = 0,
    spend_fen: int = 0,
    target_segment: Segment | None = None,
    description: str = "",
    is_active: bool = True,
    code: str = "",
    campaign: Campaign | None = None,
    created_by: User | None = None,
) -> Campaign:
    """Create (or update ``campaign``); a campaign ending before it starts is refused."""
    errors: dict[str, ValidationError] = {}
    name = (name or "").strip()
    code = (code or "").strip().lower()
    if code and (not CODE_PATTERN.fullmatch(code)):
        errors["code"] = ValidationError(
            _("活动代码只能包含小写字母、数字、- 和 _（最多 32 个）。"), code="invalid_code"
        )
    elif (
        code
        and Campaign.objects.filter(tenant=tenant, code=code)
        .exclude(pk=getattr(campaign, "pk", None))
        .exists()
    ):
        errors["code"] = ValidationError(_("活动代码已被其他活动使用。"), code="duplicate_code")
    if not name or len(name) > 100:
        errors["name"] = ValidationError(_("请填写名称（最多 100 个字）。"), code="required")
    if channel not in SourceChannel.values:
        errors["channel"] = ValidationError(_("未知的渠道。"), code="invalid_channel")
    if not isinstance(starts_on, datetime.date):
        errors["starts_on"] = ValidationError(_("请填写开始日期。"), code="required")
    if not isinstance(ends_on, datetime.date):
        errors["ends_on"] = ValidationError(_("请填写结束日期。"), code="required")
    elif isinstance(starts_on, datetime.date) and ends_on < starts_on:
        errors["ends_on"] = ValidationError(_("结束日期不能早于开始日期。"), code="ends_before_start")
    budget_fen = _money(errors, "budget_fen", budget_fen)
    spend_fen = _money(errors, "spend_fen", spend_fen)
    if target_segment is not None and target_segment.tenant_id != tenant.pk:
        errors["target_segment"] = ValidationError(_("分群不存在。"), code="not_found")
    if errors:
        raise ValidationError(errors)
    campaign = campaign or Campaign(tenant=tenant, created_by=created_by)
    campaign.name, campaign.channel, campaign.code = name, channel, code
    campaign.starts_on, campaign.ends_on = starts_on, ends_on
    campaign.budget_fen, campaign.spend_fen = budget_fen, spend_fen
    campaign.target_segment, campaign.description, campaign.is_active = target_segment, description, is_active
    campaign.save()
    return campaign


@transaction.atomic
def offer_save(
    *,
    tenant: Tenant,
    name: str,
    kind: str,
    valid_from: datetime.date,
    valid_until: datetime.date,
    campaign: Campaign | None = None,
    terms: str = "",
    value_fen: int = 0,
    quantity: int | None = None,
    package: Package | None = None,
    offer: Offer | None = None,
) -> Offer:
    """Create (or update ``offer``); a package offer may name the quotes package it adds."""
    errors: dict[str, ValidationError] = {}
    name = (name or "").strip()
    if not name or len(name) > 100:
        errors["name"] = ValidationError(_("请填写名称（最多 100 个字）。"), code="required")
    if kind not in OfferKind.values:
        errors["kind"] = ValidationError(_("未知的优惠类型。"), code="invalid_kind")
    if not isinstance(valid_from, datetime.date):
        errors["valid_from"] = ValidationError(_("请填写有效期。"), code="required")
    if not isinstance(valid_until, datetime.date):
        errors["valid_until"] = ValidationError(_("请填写有效期。"), code="required")
    elif isinstance(valid_from, datetime.date) and valid_until < valid_from:
        errors["valid_until"] = ValidationError(_("有效期结束不能早于开始。"), code="ends_before_start")
    value_fen = _money(errors, "value_fen", value_fen)
    if quantity is not None and (not isinstance(quantity, int) or not 0 < quantity <= 1_000_000):
        errors["quantity"] = ValidationError(_("数量必须大于 0（不限请留空）。"), code="invalid_quantity")
    if campaign is not None and campaign.tenant_id != tenant.pk:
        errors["campaign"] = ValidationError(_("活动不存在。"), code="not_found")
    if package is not None and package.tenant_id != tenant.pk:
        errors["package"] = ValidationError(_("套餐不存在。"), code="not_found")
    elif package is not None and kind != OfferKind.PACKAGE:
        errors["package"] = ValidationError(_("只有套餐类优惠可以关联套餐。"), code="package_not_allowed")
    if errors:
        raise ValidationError(errors)
    offer = offer or Offer(tenant=tenant)
    offer.package = package
    offer.campaign, offer.name, offer.kind, offer.terms = campaign, name, kind, terms
    offer.value_fen, offer.valid_from, offer.valid_until, offer.quantity = (
        value_fen,
        valid_from,
        valid_until,
        quantity,
    )
    offer.save()
    return offer


# --- public sign-up ------------------------------------------------------------------------------


def signup_token(campaign: Campaign) -> str:
    return signing.Signer(salt=SIGNUP_SALT).sign_object({"t": campaign.tenant_id, "c": campaign.pk})


def signup_resolve(token: str) -> tuple[Tenant, int] | None:
    """The tenant and campaign id a public sign-up link names (None if forged or inactive)."""
    if not token or len(token) > 200:
        return None
    try:
        payload = signing.Signer(salt=SIGNUP_SALT).unsign_object(token)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not all(isinstance(payload.get(k), int) for k in ("t", "c")):
        return None
    tenant = Tenant.objects.filter(pk=payload["t"], is_active=True).first()
    return (tenant, payload["c"]) if tenant is not None else None


@transaction.atomic
def campaign_signup(
    *,
    tenant: Tenant,
    campaign: Campaign,
    name: str,
    phone: str,
    consent: bool,
    source: str = SignupSource.PAGE,
    today: datetime.date | None = None,
    email: str = "",
    email_consent: bool = False,
) -> CampaignSignup:
    """Sign up for a campaign: a lead through the customers intake, the opt-in recorded, once per person.

    Without the consent box ticked nothing is written. Signing up twice returns the first sign-up
    (an e-mail opt-in given the second time is still recorded). ``email_consent`` (a separate box)
    needs ``email``; the address fills the customer's only when they have none.
    """
    today = today or timezone.localdate()
    errors: dict[str, ValidationError] = {}
    if consent is not True:
        errors["consent"] = ValidationError(_("请勾选同意接收活动信息。"), code="consent_required")
    if not campaign.is_active or today > campaign.ends_on:
        errors["campaign"] = ValidationError(_("该活动已结束报名。"), code="campaign_closed")
    try:
        normalized = normalize_phone(phone)
    except ValidationError as error:
        errors["phone"] = ValidationError(
            error.messages[0] if error.messages else _("手机号无效。"), code="invalid"
        )
    if not (name or "").strip():
        errors["name"] = ValidationError(_("请填写姓名。"), code="required")
    try:
        email = normalize_email(email)
    except ValidationError as error:
        errors["email"] = error.error_dict["email"][0]
    else:
        if email_consent and not email:
            errors["email"] = ValidationError(_("同意接收营销邮件时请填写邮箱。"), code="email_required")
    if errors:
        raise ValidationError(errors)
    existing = (
        CampaignSignup.objects.filter(tenant=tenant, campaign=campaign, customer__phone=normalized)
        .select_related("customer")
        .first()
    )
    if existing is not None:
        if email_consent:
            _email_opt_in(tenant=tenant, customer=existing.customer, email=email, campaign=campaign)
        return existing
    lead = lead_create(
        tenant=tenant,
        name=name,
        phone=normalized,
        email=email,
        source_channel=campaign.channel,
        note=f"活动报名：{campaign.name}",
    )
    signup = _signup_lead(tenant=tenant, campaign=campaign, lead=lead, source=source)
    if email_consent:
        _email_opt_in(tenant=tenant, customer=lead.customer, email=email, campaign=campaign)
    return signup


def _email_opt_in(*, tenant: Tenant, customer: Customer, email: str, campaign: Campaign) -> None:
    """The sign-up page's e-mail box: the address (if the customer has none) and the opt-in."""
    if email and not customer.email:
        Customer.objects.filter(pk=customer.pk, email="").update(email=email, updated_at=timezone.now())
    consent_record(
        tenant=tenant,
        customer=customer,
        channel=ConsentChannel.EMAIL,
        state=ConsentState.GRANTED,
        source=ConsentSource.SIGNUP_PAGE,
        reason=f"活动报名：{campaign.name}"[:200],
    )


def _signup_lead(*, tenant: Tenant, campaign: Campaign, lead: Lead, source: str) -> CampaignSignup:
    """The lead's customer signs up (once per campaign) and opts in to SMS with the sign-up as source."""
    try:
        with transaction.atomic():
            signup = CampaignSignup.objects.create(
                tenant=tenant,
                campaign=campaign,
                customer=lead.customer,
                lead=lead,
                source=source,
                signed_up_at=timezone.now(),
            )
    except IntegrityError:  # the same person twice (or at once): the first one stands
        signup = CampaignSignup.objects.get(tenant=tenant, campaign=campaign, customer=lead.customer)
    consent_record(
        tenant=tenant,
        customer=lead.customer,
        channel=ConsentChannel.SMS,
        state=ConsentState.GRANTED,
        source=ConsentSource.SIGNUP_PAGE if source == SignupSource.PAGE else ConsentSource.INTAKE_FORM,
        reason=f"活动报名：{campaign.name}"[:200],
    )
    return signup


def _open_campaign(campaign: Campaign | None, today: datetime.date) -> bool:
    return campaign is not None and campaign.is_active and today <= campaign.ends_on


def intake_validate(*, tenant: Tenant, data: dict) -> None:
    """Intake extension: a ``campaign_code`` must name an open campaign and carry the consent box."""
    code = str(data.get("campaign_code") or "").strip().lower()
    if not code:
        return
    errors: dict[str, ValidationError] = {}
    campaign = Campaign.objects.filter(tenant=tenant, code=code).first()
    if not _open_campaign(campaign, timezone.localdate()):
        errors["campaign_code"] = ValidationError(_("活动不存在或已结束报名。"), code="campaign_closed")
    if data.get("marketing_consent") is not True:
        errors["marketing_consent"] = ValidationError(
            _("活动报名须勾选同意接收活动信息。"), code="consent_required"
        )
    if errors:
        raise ValidationError(errors)


def intake_apply(*, tenant: Tenant, lead: Lead, data: dict) -> None:
    """Intake extension: sign the lead up for the campaign; a bare opt-in is recorded as consent
    (``marketing_consent`` for SMS, ``email_consent`` for e-mail, each its own box)."""
    code = str(data.get("campaign_code") or "").strip().lower()
    campaign = Campaign.objects.filter(tenant=tenant, code=code).first() if code else None
    if campaign is not None:
        _signup_lead(tenant=tenant, campaign=campaign, lead=lead, source=SignupSource.API)
    elif data.get("marketing_consent") is True and not lead.customer.is_anonymised:
        consent_record(
            tenant=tenant,
            customer=lead.customer,
            channel=ConsentChannel.SMS,
            state=ConsentState.GRANTED,
            source=ConsentSource.INTAKE_FORM,
            reason="留资表单勾选同意",
        )
    if data.get("email_consent") is True and not lead.customer.is_anonymised:
        consent_record(
            tenant=tenant,
            customer=lead.customer,
            channel=ConsentChannel.EMAIL,
            state=ConsentState.GRANTED,
            source=ConsentSource.INTAKE_FORM,
            reason="留资表单勾选同意接收邮件",
        )


@transaction.atomic
def signup_check_in(
    *, tenant: Tenant, signup: CampaignSignup, at: datetime.datetime | None = None
) -> CampaignSignup:
    """Record arrival at the event; checking in twice keeps the first time."""
    signup = CampaignSignup.objects.select_for_update(of=("self",)).get(tenant=tenant, pk=signup.pk)
    if signup.checked_in_at is None:
        signup.checked_in_at = at or timezone.now()
        signup.save(update_fields=["checked_in_at"])
    return signup


@transaction.atomic
def offer_redeem(
    *,
    tenant: Tenant,
    offer: Offer,
    customer: Customer,
    redeemed_by: User | None = None,
    quotation: Quotation | None = None,
    project: Project | None = None,
    note: str = "",
    today: datetime.date | None = None,
) -> Redemption:
    """Redeem ``offer`` for ``customer`` against one target: a quotation or a project (contract).

    Once per customer (a database constraint), within validity and quantity: the offer row is
    locked first, so two redemptions cannot both take the last unit. Against a quotation, the offer
    changes it the quotes way (``quotes.services.offers``): its value is taken off the current draft
    version and a package offer adds its package; the redemption is linked to the quotation's
    project when that contract is signed (``link_redemptions_to_contract``). Nothing is written
    when it is refused.
    """
    today = today or timezone.localdate()
    errors: dict[str, ValidationError] = {}
    if offer.tenant_id != tenant.pk:
        raise ValidationError({"offer": ValidationError(_("优惠不存在。"), code="not_found")})
    offer = Offer.objects.select_for_update(of=("self",)).get(tenant=tenant, pk=offer.pk)
    if customer.tenant_id != tenant.pk:
        errors["customer"] = ValidationError(_("客户不存在。"), code="not_found")
    if today < offer.valid_from:
        errors["offer"] = ValidationError(_("优惠尚未生效。"), code="offer_not_yet_valid")
    elif today > offer.valid_until:
        errors["offer"] = ValidationError(_("不在优惠有效期内。"), code="offer_expired")
    elif offer.quantity is not None and offer.redemptions.count() >= offer.quantity:
        errors["offer"] = ValidationError(_("优惠已领完。"), code="offer_exhausted")
    if quotation is not None and project is not None:
        errors["quotation"] = ValidationError(_("请只选择一个核销对象：报价单或合同。"), code="one_target")
    elif quotation is not None:
        errors.update(
            _quotation_errors(tenant=tenant, quotation=quotation, customer=customer, actor=redeemed_by)
        )
    elif project is not None and (project.tenant_id != tenant.pk or project.customer_id != customer.pk):
        errors["project"] = ValidationError(_("项目不属于该客户。"), code="customer_mismatch")
    if not errors and Redemption.objects.filter(tenant=tenant, offer=offer, customer=customer).exists():
        errors["offer"] = ValidationError(_("该客户已核销过此优惠。"), code="already_redeemed")
    if errors:
        raise ValidationError(errors)
    discount_fen = offer.value_fen if offer.kind in (OfferKind.VOUCHER, OfferKind.DISCOUNT) else 0
    if quotation is not None and redeemed_by is not None:
        package = offer.package if offer.kind == OfferKind.PACKAGE else None
        quotation_apply_offer(
            tenant=tenant, actor=redeemed_by, quotation=quotation, discount_fen=discount_fen, package=package
        )
    return Redemption.objects.create(
        tenant=tenant,
        offer=offer,
        customer=customer,
        quotation=quotation,
        project=project,
        applied_discount_fen=discount_fen if quotation is not None else 0,
        redeemed_at=timezone.now(),
        redeemed_by=redeemed_by,
        note=(note or "")[:200],
    )


def _quotation_errors(
    *, tenant: Tenant, quotation: Quotation, customer: Customer, actor: User | None
) -> dict[str, ValidationError]:
    if quotation.tenant_id != tenant.pk:
        return {"quotation": ValidationError(_("报价单不存在。"), code="not_found")}
    if quotation.customer_id != customer.pk:
        return {"quotation": ValidationError(_("报价单属于其他客户。"), code="customer_mismatch")}
    if actor is None:
        return {"quotation": ValidationError(_("核销到报价单须由员工操作。"), code="actor_required")}
    blocker = quotation_offer_blocker(quotation)
    if blocker is not None:
        return {"quotation": ValidationError(blocker[1], code=blocker[0])}
    return {}


def link_redemptions_to_contract(*, tenant: Tenant, project_id: int) -> int:
    """The project signed its contract: redemptions against any version of its accepted quotation
    now name the project too (campaign figures count signed contracts through it). Idempotent."""
    numbers = Quotation.objects.filter(
        tenant=tenant, project_id=project_id, status=QuotationStatus.ACCEPTED
    ).values("number")
    return Redemption.objects.filter(
        tenant=tenant, project__isnull=True, quotation__number__in=numbers, quotation__project_id=project_id
    ).update(project_id=project_id)
