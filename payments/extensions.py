"""What payments adds to other apps' pages (through crm.extensions): the customer's 回款 panel."""

from __future__ import annotations

from types import SimpleNamespace

from django.utils.translation import gettext as _

from crm.extensions import CustomerSection, Panel, render_panel
from crm.page_data import PageQuery, row, rows
from crm.permissions import has_permission
from crm.tenancy import tenant_today

# The customer's 回款 panel, read in the customer page's single statement (crm.extensions.customer_page):
# ``selectors.customer_lifetime_value_fen`` and ``plans_for_list`` of the customer.

VALUE_SQL = """
SELECT coalesce(sum(p.contract_amount_fen + p.adjustments_fen), 0) AS contracted_fen, count(p.id) AS plans,
       (SELECT coalesce(sum(r.amount_fen), 0) FROM payments_paymentreceipt r
        JOIN payments_paymentplan rp ON rp.id = r.plan_id
        WHERE r.tenant_id = %s AND rp.customer_id = %s AND r.voided_at IS NULL) AS paid_fen
FROM payments_paymentplan p WHERE p.tenant_id = %s AND p.customer_id = %s"""
# ``selectors.plans_for_list`` of one customer (the same figures and order; a test compares them),
# written out: compiling that queryset's nested subqueries cost more than the rest of the page's reads.
PLANS_SQL = """
SELECT p.id, j.name AS project_name,
       p.contract_amount_fen + p.adjustments_fen - coalesce(r.received, 0) AS outstanding_fen,
       coalesce(o.overdue, 0) AS overdue_fen
FROM payments_paymentplan p JOIN projects_project j ON j.id = p.project_id
LEFT JOIN LATERAL (
    SELECT sum(a.amount_fen) AS received FROM payments_paymentallocation a
    JOIN payments_paymentmilestone m ON m.id = a.milestone_id WHERE m.plan_id = p.id) r ON true
LEFT JOIN LATERAL (
    SELECT sum(d.amount_fen - d.paid) AS overdue FROM (
        SELECT m.amount_fen, coalesce((SELECT sum(a.amount_fen) FROM payments_paymentallocation a
                                       WHERE a.milestone_id = m.id), 0) AS paid
        FROM payments_paymentmilestone m WHERE m.plan_id = p.id AND m.due_on < %s) d
    WHERE d.amount_fen > d.paid) o ON true
WHERE p.tenant_id = %s AND p.customer_id = %s
ORDER BY overdue_fen DESC, outstanding_fen DESC, p.id DESC"""


def _panel_queries(*, request, tenant, customer_id: int, checked: bool) -> dict[str, PageQuery] | None:  # noqa: ARG001
    if not has_permission(getattr(request, "user", None), "payments.view"):
        return None
    return {
        "value": row(VALUE_SQL, [tenant.pk, customer_id, tenant.pk, customer_id]),
        "plans": rows(PLANS_SQL, [tenant_today(tenant), tenant.pk, customer_id]),
    }


def _panel(*, request, tenant, customer_id: int, data: dict) -> Panel | None:  # noqa: ARG001
    """Contracted vs really paid (lifetime value from receipts) and each plan's outstanding amount."""
    value = data["value"]
    if not value["plans"]:
        return None
    plans = [
        SimpleNamespace(
            pk=plan["id"],
            project_name=plan["project_name"],
            outstanding_fen=plan["outstanding_fen"],
            overdue_fen=plan["overdue_fen"],
        )
        for plan in data["plans"]
    ]
    html = render_panel("payments/_customer_panel.html", {"value": value, "plans": plans}, request=request)
    return Panel(title=_("回款"), html=html, order=40)


CUSTOMER_SECTION = CustomerSection(name="payments", panel_queries=_panel_queries, panel=_panel)


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
