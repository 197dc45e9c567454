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
def customer_contact(context, customer, buttons: bool = True) -> SafeString:
    request = context.get("request")
    user = getattr(request, "user", None)
    if customer is None or user is None:
        return SafeString("")
    phone = display_phone(user, customer)
    wechat = "" if customer.is_anonymised else customer.wechat_id
    if not buttons:
        return tel_link(phone)
    return format_html(
        '<span class="crm-contact">{} {}</span>', tel_link(phone), contact_buttons(phone, wechat)
    )
