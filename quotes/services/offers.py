"""Campaign offers applied to a quotation: the quotes side of an offer redemption.

The caller (engagement's ``offer_redeem``) decides *whether* an offer may be redeemed; this module
decides *how* it changes the quotation, in quotes' own terms: the offer's value joins the
quotation's discount as ``offer_discount_fen`` (pre-approved; see ``_recompute`` for how a staff
discount on top is judged) and a package offer adds its package as a line. Only the latest version,
still a draft, can take an offer: a sent version is revised first, so the customer never sees a
sent quotation change.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from crm.permissions import require_permission
from crm.validators import MONEY_MAX
from quotes.models import LineKind, Package, Quotation, QuotationLine, QuotationStatus
from quotes.services._common import error
from quotes.services.quotations import MAX_LINES, _build_line, _lock, _recompute, _save_totals


def quotation_offer_blocker(quotation: Quotation) -> tuple[str, str] | None:
    """Why ``quotation`` cannot take an offer now, as (code, message); None when it can."""
    if quotation.status == QuotationStatus.ACCEPTED:
        return "quotation_accepted", _("客户已接受该报价，不能再核销优惠。")
    latest = Quotation.objects.filter(number=quotation.number).order_by("-version").values("pk").first()
    if quotation.status in (QuotationStatus.REJECTED, QuotationStatus.SUPERSEDED) or (
        latest is not None and latest["pk"] != quotation.pk
    ):
        return "quotation_void", _("该报价版本已作废（被拒绝或已有新版本），请选择当前版本。")
    if quotation.status != QuotationStatus.DRAFT:
        return "quotation_not_editable", _("报价单已发送，请先创建新版本再核销优惠。")
    return None


@transaction.atomic
def quotation_apply_offer(
    *,
    tenant: Tenant,
    actor: User,
    quotation: Quotation,
    discount_fen: int,
    package: Package | None = None,
    package_quantity: Decimal | None = None,
) -> Quotation:
    """Take ``discount_fen`` off the quotation (and add ``package`` as a line); totals follow.

    Raises a ``quotation`` field error (stable code) when the version cannot take an offer, and
    ``discount_exceeds_total`` when the discounts together would exceed the subtotal.
    """
    require_permission(actor, "quotes.edit")
    quotation = _lock(quotation)
    if quotation.tenant_id != tenant.pk:
        raise error("quotation", _("报价单不存在。"), "not_found")
    blocker = quotation_offer_blocker(quotation)
    if blocker is not None:
        raise error("quotation", blocker[1], blocker[0])
    if isinstance(discount_fen, bool) or not isinstance(discount_fen, int) or discount_fen < 0:
        raise error("discount_fen", _("金额不能为负数"), "negative_money")
    if discount_fen > MONEY_MAX:
        raise error("discount_fen", _("金额过大"), "money_too_large")
    if package is not None:
        count = QuotationLine.objects.filter(quotation=quotation).count()
        if count >= MAX_LINES:
            raise error("lines", _("一张报价单最多 %(n)s 行。") % {"n": MAX_LINES}, "too_many_lines")
        line = _build_line(
            tenant=tenant,
            quotation=quotation,
            position=count + 1,
            data={"kind": LineKind.PACKAGE, "package": package, "quantity": package_quantity},
        )
        line.save()
    quotation.offer_discount_fen += discount_fen
    _recompute(tenant=tenant, quotation=quotation, actor=actor)
    _save_totals(quotation)
    return quotation
