"""``{% customer_contact customer %}``: a customer's number (full or masked, by the viewer's rights)
with the call and WeChat buttons, for list cards in any app (aftercare plans, tickets, projects)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from crm.templatetags.crm_ui import contact_buttons, tel_link
from customers.selectors import display_phone

register = template.Library()


@register.simple_tag(takes_context=True)
def customer_contact(context, customer, buttons: bool = True, full_phone: bool | None = None) -> SafeString:
    """``full_phone``: the viewer's right to the full number, when the list already asked for all
    its rows at once (``customers.visibility.customer_ids_with_full_phone``); else one query here."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if customer is None or user is None:
        return SafeString("")
    if full_phone is None:
        phone = display_phone(user, customer)
    elif customer.is_anonymised:
        phone = "—"
    else:
        phone = customer.phone.removeprefix("+86") if full_phone else customer.masked_phone
    wechat = "" if customer.is_anonymised else customer.wechat_id
    if not buttons:
        return tel_link(phone)
    return format_html(
        '<span class="crm-contact">{} {}</span>', tel_link(phone), contact_buttons(phone, wechat)
    )
