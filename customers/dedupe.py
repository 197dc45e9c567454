"""Duplicate detection (撞单): a customer is unique per tenant by normalised mobile, and by WeChat id
when one is recorded.

The database backs both (``customers_customer_tenant_phone_uniq``,
``customers_customer_tenant_wechat_uniq``; a merged duplicate is archived with its number and
WeChat id released, see ``customers.services.merge``); staff entering a known number
are told whose customer it is instead of creating a second one, and the lead paths attach to it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from customers.models import Customer


def owner_label(customer: Customer) -> str:
    if customer.in_pool or customer.owner_id is None:
        return _("公海（无人负责）")
    return str(customer.owner)


def duplicate_phone_error(existing: Customer) -> ValidationError:
    """The form/API error for a known number: which customer, and who owns it (``duplicate_phone``)."""
    message = _("该手机号已登记为客户「%(name)s」（#%(id)s），负责人：%(owner)s。") % {
        "name": existing.name,
        "id": existing.pk,
        "owner": owner_label(existing),
    }
    return ValidationError({"phone": [ValidationError(message, code="duplicate_phone")]})


def duplicate_wechat_error(existing: Customer) -> ValidationError:
    """The form/API error for a known WeChat id (``duplicate_wechat``)."""
    message = _("该微信号已登记为客户「%(name)s」（#%(id)s），负责人：%(owner)s。") % {
        "name": existing.name,
        "id": existing.pk,
        "owner": owner_label(existing),
    }
    return ValidationError({"wechat_id": [ValidationError(message, code="duplicate_wechat")]})
