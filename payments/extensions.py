"""What payments adds to other apps' pages (through crm.extensions): the customer's 回款 panel."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from crm.extensions import Panel
from crm.permissions import has_permission
from crm.tenancy import tenant_today
from payments import selectors


def customer_payments_panel(*, request, tenant, customer_id: int) -> Panel | None:
    """Contracted vs really paid (lifetime value from receipts) and each plan's outstanding amount."""
    user = getattr(request, "user", None)
    if not has_permission(user, "payments.view"):
        return None
    value = selectors.customer_lifetime_value_fen(customer_id=customer_id)
    if not value["plans"]:
        return None
    today = tenant_today(tenant)
    plans = selectors.plans_for_list(today=today).filter(customer_id=customer_id)
    html = render_to_string(
        "payments/_customer_panel.html", {"value": value, "plans": plans}, request=request
    )
    return Panel(title=_("回款"), html=html, order=40)


def merge_customer_plans(*, tenant, source, target, actor, merge) -> dict:  # noqa: ARG001 - handler signature
    """Customer merge (crm.extensions): payment plans follow the surviving customer (their projects do)."""
    from customers.services.merge import move_customer_rows, moved_key
    from payments.models import PaymentPlan

    return {
        "moved": {
            moved_key(PaymentPlan, "customer"): move_customer_rows(
                PaymentPlan, "customer", source=source, target=target
            )
        }
    }
