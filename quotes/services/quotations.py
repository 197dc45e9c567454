"""Quotations: lines, totals exact in fen, discounts with a manager's approval, versions, decisions.

Every write locks the quotation row and recomputes its totals from its lines in the same
transaction, so the stored subtotal, discount and total always agree (a database check backs it).
Only a draft version is editable; a sent one is changed by revising it into the next version.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TypedDict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from crm.money import fen_share, fen_times, format_fen
from crm.notifications.services import notify
from crm.permissions import has_permission, require_permission
from crm.selectors import staff_of_tenant
from crm.validators import MONEY_MAX
from customers.models import Customer
from projects.models import Project
from quotes.models import (
    CatalogueItem,
    DiscountApproval,
    DiscountKind,
    ItemCategory,
    LineKind,
    Package,
    Quotation,
    QuotationLine,
    QuotationStatus,
)
from quotes.services._common import error, parse_quantity, quote_settings

MAX_LINES = 500
PERCENT_PLACES = 2


class LineInput(TypedDict, total=False):
    kind: str
    catalogue_item: CatalogueItem | None
    package: Package | None
    name: str
    spec: str
    unit: str
    category: str
    unit_price_fen: int
    quantity: Decimal | str | int | None


def _lock(quotation: Quotation) -> Quotation:
    return Quotation.objects.select_for_update(of=("self",)).get(pk=quotation.pk)


def _require_draft(quotation: Quotation) -> None:
    if quotation.status != QuotationStatus.DRAFT:
        raise error(
            "status",
            _("报价单 %(number)s v%(version)s 已%(status)s，不能修改；请创建新版本。")
            % {
                "number": quotation.number,
                "version": quotation.version,
                "status": quotation.get_status_display(),
            },
            "quotation_not_editable",
        )


def _next_number(*, tenant: Tenant) -> str:
    """``BJ20260130-001``: per tenant and day, serialised by the settings row lock."""
    quote_settings(tenant=tenant, lock=True)
    today = timezone.localdate()
    prefix = f"BJ{today:%Y%m%d}-"
    taken = Quotation.objects.filter(number__startswith=prefix, version=1).count()
    return f"{prefix}{taken + 1:03d}"


def _check_area(area_sqm: object) -> Decimal | None:
    if area_sqm in (None, ""):
        return None
    try:
        area = Decimal(str(area_sqm))
    except InvalidOperation:
        raise error("area_sqm", _("面积须为数字，最多两位小数。"), "invalid_area") from None
    if not area.is_finite() or area <= 0 or area >= Decimal("1000000"):
        raise error("area_sqm", _("面积须大于 0 且小于 1,000,000。"), "invalid_area")
    if area != area.quantize(Decimal("0.01")):
        raise error("area_sqm", _("面积最多两位小数。"), "area_too_precise")
    return area


def _check_text(field: str, value: str, limit: int, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise error(field, _("此项必填。"), "required")
    if len(value) > limit:
        raise error(field, _("最多 %(n)s 个字符。") % {"n": limit}, "too_long")
    return value


@transaction.atomic
def quotation_create(
    *,
    tenant: Tenant,
    actor: User,
    customer: Customer,
    title: str,
    project: Project | None = None,
    area_sqm: Decimal | str | None = None,
    note: str = "",
) -> Quotation:
    require_permission(actor, "quotes.edit")
    if customer.tenant_id != tenant.pk:
        raise error("customer", _("客户不存在。"), "does_not_exist")
    if project is not None and (project.tenant_id != tenant.pk or project.customer_id != customer.pk):
        raise error("project", _("项目不属于该客户。"), "project_not_of_customer")
    area = _check_area(area_sqm)
    if area is None and project is not None and project.area_sqm:
        area = project.area_sqm
    return Quotation.objects.create(
        tenant=tenant,
        number=_next_number(tenant=tenant),
        version=1,
        customer=customer,
        project=project,
        title=_check_text("title", title, 100, required=True),
        area_sqm=area,
        note=_check_text("note", note, 500),
        created_by=actor,
    )


@transaction.atomic
def quotation_update(
    *,
    tenant: Tenant,
    actor: User,
    quotation: Quotation,
    title: str,
    area_sqm: Decimal | str | None = None,
    note: str = "",
) -> Quotation:
    require_permission(actor, "quotes.edit")
    quotation = _lock(quotation)
    _require_draft(quotation)
    quotation.title = _check_text("title", title, 100, required=True)
    quotation.area_sqm = _check_area(area_sqm)
    quotation.note = _check_text("note", note, 500)
    quotation.save(update_fields=["title", "area_sqm", "note", "updated_at"])
    return quotation


def _build_line(*, tenant: Tenant, quotation: Quotation, position: int, data: LineInput) -> QuotationLine:
    """A line from a catalogue item or a package (prices copied now) or typed in freely."""
    kind = data.get("kind") or (
        LineKind.ITEM
        if data.get("catalogue_item")
        else LineKind.PACKAGE
        if data.get("package")
        else LineKind.FREE
    )
    line = QuotationLine(tenant=tenant, quotation=quotation, position=position, kind=kind)
    quantity_raw = data.get("quantity")
    if kind == LineKind.ITEM:
        item = data.get("catalogue_item")
        if item is None or item.tenant_id != tenant.pk:
            raise error("catalogue_item", _("请选择目录中的项目。"), "item_required")
        if not item.active:
            raise error(
                "catalogue_item", _("项目「%(name)s」已停用。") % {"name": item.name}, "item_inactive"
            )
        line.catalogue_item = item
        line.name, line.spec, line.unit, line.category = item.name, item.spec, item.unit, item.category
        line.unit_price_fen = item.unit_price_fen
    elif kind == LineKind.PACKAGE:
        package = data.get("package")
        if package is None or package.tenant_id != tenant.pk:
            raise error("package", _("请选择套餐。"), "package_required")
        if not package.active:
            raise error("package", _("套餐「%(name)s」已停用。") % {"name": package.name}, "package_inactive")
        line.package = package
        line.name, line.spec, line.unit, line.category = package.name, "", "㎡", ""
        line.unit_price_fen = package.price_per_sqm_fen
        if quantity_raw in (None, ""):
            if quotation.area_sqm is None:
                raise error("quantity", _("套餐按面积计价：请填写面积。"), "area_required")
            quantity_raw = quotation.area_sqm
    elif kind == LineKind.FREE:
        line.name = _check_text("name", data.get("name", ""), 100, required=True)
        line.spec = _check_text("spec", data.get("spec", ""), 100)
        line.unit = _check_text("unit", data.get("unit", ""), 20, required=True)
        category = data.get("category", "") or ""
        if category and category not in ItemCategory.values:
            raise error("category", _("类别须为主材、辅材、人工、管理费或设计费。"), "invalid_category")
        line.category = category
        price = data.get("unit_price_fen")
        if isinstance(price, bool) or not isinstance(price, int):
            raise error("unit_price_fen", _("请填写单价。"), "required")
        if price < 0:
            raise error("unit_price_fen", _("金额不能为负数"), "negative_money")
        if price > MONEY_MAX:
            raise error("unit_price_fen", _("金额过大"), "money_too_large")
        line.unit_price_fen = price
    else:
        raise error("kind", _("未知的明细类型。"), "invalid_kind")
    line.quantity = parse_quantity(quantity_raw)
    line.amount_fen = fen_times(line.unit_price_fen, line.quantity)
    if line.amount_fen > MONEY_MAX:
        raise error("quantity", _("金额过大"), "money_too_large")
    return line


def _discount_fen(*, kind: str, value: int, subtotal_fen: int) -> int:
    if kind == DiscountKind.AMOUNT:
        return value
    if kind == DiscountKind.PERCENT:
        return fen_share(subtotal_fen, value)
    return 0


def _needs_approval(*, tenant: Tenant, discount_fen: int, subtotal_fen: int) -> bool:
    """Above the tenant's threshold share of the subtotal (integer arithmetic, exact)."""
    if discount_fen <= 0:
        return False
    threshold_bp = quote_settings(tenant=tenant).approval_threshold_bp
    return discount_fen * 10_000 > subtotal_fen * threshold_bp


def _recompute(*, tenant: Tenant, quotation: Quotation, actor: User) -> None:
    """Subtotal from the lines, discount from its rule, total; a changed discount is judged again.

    The discount is the staff's own (amount or percentage) plus ``offer_discount_fen``, what redeemed
    campaign offers take off. An offer alone never needs approval (its campaign is the approval); a
    staff discount on top of it is judged on the whole concession, offer included, against the
    tenant's threshold, so stacking cannot pass a larger discount than a manager would see.
    """
    subtotal = sum(QuotationLine.objects.filter(quotation=quotation).values_list("amount_fen", flat=True))
    if subtotal > MONEY_MAX:
        raise error("lines", _("报价合计过大。"), "money_too_large")
    manual = _discount_fen(
        kind=quotation.discount_kind, value=quotation.discount_value, subtotal_fen=subtotal
    )
    discount = manual + quotation.offer_discount_fen
    if discount > subtotal:
        raise error(
            "discount",
            _("折扣 %(discount)s 超过报价小计 %(subtotal)s。")
            % {"discount": format_fen(discount), "subtotal": format_fen(subtotal)},
            "discount_exceeds_total",
        )
    discount_changed = discount != quotation.discount_fen
    quotation.subtotal_fen, quotation.discount_fen, quotation.total_fen = (
        subtotal,
        discount,
        subtotal - discount,
    )
    approval_settled = quotation.discount_approval in (DiscountApproval.APPROVED, DiscountApproval.REJECTED)
    if discount_changed or not approval_settled:
        if manual > 0 and _needs_approval(tenant=tenant, discount_fen=discount, subtotal_fen=subtotal):
            if discount_changed or quotation.discount_approval == DiscountApproval.NOT_NEEDED:
                quotation.discount_approval = DiscountApproval.PENDING
                quotation.discount_decided_by, quotation.discount_decided_at = None, None
                quotation.discount_note = ""
                _ask_approvers(tenant=tenant, quotation=quotation, actor=actor)
        else:
            quotation.discount_approval = DiscountApproval.NOT_NEEDED
            quotation.discount_decided_by, quotation.discount_decided_at = None, None


def _ask_approvers(*, tenant: Tenant, quotation: Quotation, actor: User) -> None:
    approvers = [
        user
        for user in staff_of_tenant(tenant=tenant)
        if has_permission(user, "quotes.approve_discount") and user.pk != actor.pk
    ]
    if not approvers:
        approvers = [
            u for u in staff_of_tenant(tenant=tenant) if has_permission(u, "quotes.approve_discount")
        ]
    notify(
        tenant=tenant,
        recipients=approvers,
        kind="quotes.discount_approval",
        title=_("报价折扣待审批：%(number)s v%(version)s 折扣 %(discount)s")
        % {
            "number": quotation.number,
            "version": quotation.version,
            "discount": format_fen(quotation.discount_fen),
        },
        body=_("客户 %(customer)s，小计 %(subtotal)s，折后 %(total)s。")
        % {
            "customer": quotation.customer.name,
            "subtotal": format_fen(quotation.subtotal_fen),
            "total": format_fen(quotation.total_fen),
        },
        link=reverse("quotes:detail", args=[quotation.pk]) if quotation.pk else "",
        dedupe_key=f"quotes:discount:{quotation.pk}:{quotation.discount_fen}:{timezone.now():%Y%m%d%H%M%S%f}",
    )


def _save_totals(quotation: Quotation) -> None:
    quotation.save(
        update_fields=[
            "subtotal_fen",
            "discount_fen",
            "offer_discount_fen",
            "total_fen",
            "discount_kind",
            "discount_value",
            "discount_approval",
            "discount_decided_by",
            "discount_decided_at",
            "discount_note",
            "updated_at",
        ]
    )


@transaction.atomic
def quotation_set_lines(
    *, tenant: Tenant, actor: User, quotation: Quotation, lines: list[LineInput]
) -> Quotation:
    """Replace every line of a draft (the builder saves the whole table); totals follow."""
    require_permission(actor, "quotes.edit")
    quotation = _lock(quotation)
    _require_draft(quotation)
    if len(lines) > MAX_LINES:
        raise error("lines", _("一张报价单最多 %(n)s 行。") % {"n": MAX_LINES}, "too_many_lines")
    built = []
    for index, data in enumerate(lines):
        try:
            built.append(_build_line(tenant=tenant, quotation=quotation, position=index + 1, data=data))
        except ValidationError as exc:
            raise ValidationError({"lines": [ValidationError({str(index): exc.error_dict})]}) from None
    QuotationLine.objects.filter(quotation=quotation).delete()
    QuotationLine.objects.bulk_create(built)
    _recompute(tenant=tenant, quotation=quotation, actor=actor)
    _save_totals(quotation)
    return quotation


@transaction.atomic
def quotation_add_line(
    *, tenant: Tenant, actor: User, quotation: Quotation, line: LineInput
) -> QuotationLine:
    require_permission(actor, "quotes.edit")
    quotation = _lock(quotation)
    _require_draft(quotation)
    count = QuotationLine.objects.filter(quotation=quotation).count()
    if count >= MAX_LINES:
        raise error("lines", _("一张报价单最多 %(n)s 行。") % {"n": MAX_LINES}, "too_many_lines")
    built = _build_line(tenant=tenant, quotation=quotation, position=count + 1, data=line)
    built.save()
    _recompute(tenant=tenant, quotation=quotation, actor=actor)
    _save_totals(quotation)
    return built


@transaction.atomic
def quotation_remove_line(*, tenant: Tenant, actor: User, quotation: Quotation, line_id: int) -> Quotation:
    require_permission(actor, "quotes.edit")
    quotation = _lock(quotation)
    _require_draft(quotation)
    deleted, _rows = QuotationLine.objects.filter(quotation=quotation, pk=line_id).delete()
    if not deleted:
        raise error("line", _("明细不存在。"), "does_not_exist")
    _recompute(tenant=tenant, quotation=quotation, actor=actor)
    _save_totals(quotation)
    return quotation


def parse_percent(value: object) -> int:
    """``"8.5"`` (%) → 850 basis points; 0 < p ≤ 100, at most two decimals."""
    if isinstance(value, float | bool):
        raise error("discount_percent", _("折扣比例须为数字，最多两位小数。"), "invalid_percent")
    try:
        percent = Decimal(str(value).strip().rstrip("%"))
    except InvalidOperation:
        raise error("discount_percent", _("折扣比例须为数字，最多两位小数。"), "invalid_percent") from None
    if not percent.is_finite():
        raise error("discount_percent", _("折扣比例须为数字，最多两位小数。"), "invalid_percent")
    if percent < 0 or percent > 100:  # before quantize: 1e999999 would overflow it
        raise error("discount_percent", _("折扣比例须在 0–100% 之间。"), "percent_out_of_range")
    if percent != percent.quantize(Decimal("0.01")):
        raise error("discount_percent", _("折扣比例最多两位小数。"), "percent_too_precise")
    return int(percent * 100)


@transaction.atomic
def quotation_set_discount(
    *, tenant: Tenant, actor: User, quotation: Quotation, kind: str, amount_fen: int = 0, percent_bp: int = 0
) -> Quotation:
    """An amount (fen) or a percentage (basis points) off; above the threshold it waits for a manager."""
    require_permission(actor, "quotes.edit")
    quotation = _lock(quotation)
    _require_draft(quotation)
    if kind not in DiscountKind.values:
        raise error("discount_kind", _("未知的折扣方式。"), "invalid_discount_kind")
    if kind == DiscountKind.AMOUNT:
        if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen < 0:
            raise error("discount_amount_fen", _("折扣金额不能为负数。"), "negative_money")
        value = amount_fen
    elif kind == DiscountKind.PERCENT:
        if isinstance(percent_bp, bool) or not isinstance(percent_bp, int) or not 0 <= percent_bp <= 10_000:
            raise error("discount_percent", _("折扣比例须在 0–100% 之间。"), "percent_out_of_range")
        value = percent_bp
    else:
        value = 0
    quotation.discount_kind, quotation.discount_value = kind, value
    _recompute(tenant=tenant, quotation=quotation, actor=actor)
    _save_totals(quotation)
    return quotation


@transaction.atomic
def quotation_decide_discount(
    *, tenant: Tenant, actor: User, quotation: Quotation, approve: bool, note: str = ""
) -> Quotation:
    require_permission(actor, "quotes.approve_discount")
    quotation = _lock(quotation)
    if quotation.discount_approval != DiscountApproval.PENDING:
        raise error("discount", _("该报价单没有待审批的折扣。"), "no_pending_discount")
    quotation.discount_approval = DiscountApproval.APPROVED if approve else DiscountApproval.REJECTED
    quotation.discount_decided_by = actor
    quotation.discount_decided_at = timezone.now()
    quotation.discount_note = _check_text("note", note, 300)
    quotation.save(
        update_fields=["discount_approval", "discount_decided_by", "discount_decided_at", "discount_note"]
    )
    if quotation.created_by is not None and quotation.created_by.pk != actor.pk:
        notify(
            tenant=tenant,
            recipients=[quotation.created_by],
            kind="quotes.discount_decided",
            title=(
                _("报价折扣已批准：%(number)s v%(version)s")
                if approve
                else _("报价折扣被驳回：%(number)s v%(version)s")
            )
            % {"number": quotation.number, "version": quotation.version},
            body=quotation.discount_note,
            link=reverse("quotes:detail", args=[quotation.pk]),
            dedupe_key=f"quotes:discount-decided:{quotation.pk}:{quotation.discount_decided_at:%Y%m%d%H%M%S%f}",
        )
    return quotation


@transaction.atomic
def quotation_send(*, tenant: Tenant, actor: User, quotation: Quotation) -> Quotation:
    """Draft → sent: it has lines and its discount is approved (or needs none); it is frozen from now."""
    require_permission(actor, "quotes.edit")
    quotation = _lock(quotation)
    _require_draft(quotation)
    if not QuotationLine.objects.filter(quotation=quotation).exists():
        raise error("lines", _("报价单还没有明细。"), "no_lines")
    if quotation.discount_approval == DiscountApproval.PENDING:
        raise error("discount", _("折扣待经理审批，审批后才能发送。"), "discount_pending_approval")
    if quotation.discount_approval == DiscountApproval.REJECTED:
        raise error("discount", _("折扣已被驳回：请调整折扣后再发送。"), "discount_rejected")
    quotation.status = QuotationStatus.SENT
    quotation.sent_at = timezone.now()
    quotation.save(update_fields=["status", "sent_at", "updated_at"])
    return quotation


@transaction.atomic
def quotation_revise(*, tenant: Tenant, actor: User, quotation: Quotation) -> Quotation:
    """A sent or rejected version → a new draft version with the same lines; the old one is kept as is
    (a sent one becomes "superseded")."""
    require_permission(actor, "quotes.edit")
    quotation = _lock(quotation)
    latest = Quotation.objects.filter(number=quotation.number).order_by("-version").first()
    if latest is None or latest.pk != quotation.pk:
        raise error("version", _("只能基于最新版本修改。"), "not_latest_version")
    if quotation.status == QuotationStatus.DRAFT:
        raise error("status", _("草稿可直接修改，无需新版本。"), "quotation_is_draft")
    if quotation.status == QuotationStatus.ACCEPTED:
        raise error("status", _("客户已接受的报价不能再修改。"), "quotation_accepted")
    lines = list(QuotationLine.objects.filter(quotation=quotation).order_by("position", "id"))
    if quotation.status == QuotationStatus.SENT:
        quotation.status = QuotationStatus.SUPERSEDED
        quotation.save(update_fields=["status", "updated_at"])
    revision = Quotation.objects.create(
        tenant=tenant,
        number=quotation.number,
        version=quotation.version + 1,
        customer_id=quotation.customer_id,
        project_id=quotation.project_id,
        title=quotation.title,
        area_sqm=quotation.area_sqm,
        note=quotation.note,
        subtotal_fen=quotation.subtotal_fen,
        discount_kind=quotation.discount_kind,
        discount_value=quotation.discount_value,
        discount_fen=quotation.discount_fen,
        offer_discount_fen=quotation.offer_discount_fen,
        total_fen=quotation.total_fen,
        discount_approval=quotation.discount_approval,
        discount_decided_by_id=quotation.discount_decided_by_id,
        discount_decided_at=quotation.discount_decided_at,
        discount_note=quotation.discount_note,
        created_by=actor,
    )
    QuotationLine.objects.bulk_create(
        [
            QuotationLine(
                tenant=tenant,
                quotation=revision,
                position=line.position,
                kind=line.kind,
                catalogue_item_id=line.catalogue_item_id,
                package_id=line.package_id,
                name=line.name,
                spec=line.spec,
                unit=line.unit,
                category=line.category,
                unit_price_fen=line.unit_price_fen,
                quantity=line.quantity,
                amount_fen=line.amount_fen,
            )
            for line in lines
        ]
    )
    return revision


class DecisionChannel:
    STAFF = "staff"
    CUSTOMER_LINK = "customer_link"


@transaction.atomic
def quotation_decide(
    *,
    tenant: Tenant,
    quotation: Quotation,
    accept: bool,
    channel: str,
    decided_by: User | None,
) -> Quotation:
    """Sent → accepted / rejected: by the customer on the progress page (SMS code) or recorded by staff."""
    if decided_by is not None:
        require_permission(decided_by, "quotes.edit")
    quotation = _lock(quotation)
    if quotation.status != QuotationStatus.SENT:
        raise error("status", _("只有已发送的报价单可以接受或拒绝。"), "quotation_not_sent")
    quotation.status = QuotationStatus.ACCEPTED if accept else QuotationStatus.REJECTED
    quotation.decided_at = timezone.now()
    quotation.decision_channel = channel
    quotation.save(update_fields=["status", "decided_at", "decision_channel", "updated_at"])
    return quotation
