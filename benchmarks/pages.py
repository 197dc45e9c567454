"""Lead inbox, customer detail (with timeline) and project detail against their raw-SQL limits.

Used by ``benchmarks/run.py`` (same interleaving, same line format). Each limit is ONE hand-written
statement returning every data set the page shows (``json_agg`` sub-selects: the rows of each
table, the statistics, the names of the people), in one transaction with the tenant setting, the
rows then written as a bare HTML table per section. The pages' own figure is a whole request
through the Django stack as the tenant's manager.

The customer and project pages need a customer with history: ``detail_fixture`` adds one (named
``基准详情客户``: 40 follow-ups, 3 leads, 2 signed projects with stage history, daily logs and an
acceptance, 2 service tickets, 4 appointments, 4 tasks) to ``bench-0`` on first use.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from django.db import connection

TARGET = 3.0
DETAIL_CUSTOMER = "基准详情客户"


def _name(alias: str) -> str:
    return f"coalesce(nullif({alias}.display_name, ''), {alias}.username)"


LEAD_INBOX_SQL = f"""
SELECT
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT l.id, l.first_response_due_at, l.clock_started_at, l.sla_breached, l.received_at,
           l.source_channel, left(l.note, 40) AS note, c.id AS customer_id, c.name, c.phone,
           c.wechat_id, c.anonymised_at, {_name("u")} AS assignee, s.score, s.factors
    FROM customers_lead l
    JOIN customers_customer c ON c.id = l.customer_id
    LEFT JOIN crm_user u ON u.id = l.assignee_id
    LEFT JOIN engagement_leadscore s ON s.lead_id = l.id
    WHERE l.status = 'open'
    ORDER BY l.first_response_due_at, l.id LIMIT 200) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT c.id, c.name, c.phone, c.pool_reason, c.pooled_at FROM customers_customer c
    WHERE c.in_pool ORDER BY c.pooled_at DESC, c.id DESC LIMIT 50) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT {_name("u")} AS who, g.* FROM (
      SELECT coalesce(l.first_responder_id, l.assignee_id) AS user_id, count(*) AS leads,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY l.response_seconds) AS median,
             percentile_cont(0.9) WITHIN GROUP (ORDER BY l.response_seconds) AS p90,
             count(*) FILTER (WHERE l.sla_breached OR coalesce(l.first_responded_at > l.first_response_due_at,
                                                                 l.first_response_due_at < now())) AS late
      FROM customers_lead l WHERE l.received_at >= now() - interval '30 days' GROUP BY 1) g
    LEFT JOIN crm_user u ON u.id = g.user_id ORDER BY 1) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT l.source_channel, count(*) AS leads,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY l.response_seconds) AS median,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY l.response_seconds) AS p90,
           count(*) FILTER (WHERE l.sla_breached OR coalesce(l.first_responded_at > l.first_response_due_at,
                                                               l.first_response_due_at < now())) AS late
    FROM customers_lead l WHERE l.received_at >= now() - interval '30 days' GROUP BY 1 ORDER BY 1) x),
 (SELECT row_to_json(x) FROM (
    SELECT business_hours_start, business_hours_end FROM customers_customersettings LIMIT 1) x)
"""

# Every data set the customer page shows (session 5 made it faithful: the page also shows completed
# aftercare visits, answered surveys and maintenance plans, the referral account, its ledger and the
# tenant's VIP title, the names of referrers and referred customers, consent events and current
# consents, the latest lead score, content pushes, the tenant's stage names, payments received per
# plan and milestone, and the customer a duplicate was merged into; the first version omitted them).
CUSTOMER_DETAIL_SQL = f"""
SELECT
 (SELECT row_to_json(x) FROM (
    SELECT c.*, {_name("o")} AS owner_name, {_name("d")} AS designer_name, m.name AS merged_into_name
    FROM customers_customer c LEFT JOIN crm_user o ON o.id = c.owner_id
    LEFT JOIN crm_user d ON d.id = c.designer_id
    LEFT JOIN customers_customer m ON m.id = c.merged_into_id WHERE c.id = %(id)s) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT f.occurred_at, f.kind, f.outcome, f.content, f.next_follow_up_at, {_name("u")} AS author
    FROM customers_followup f LEFT JOIN crm_user u ON u.id = f.author_id
    WHERE f.customer_id = %(id)s ORDER BY f.occurred_at DESC, f.id DESC LIMIT 200) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT l.received_at, l.source_channel, l.note, l.status, l.sla_breached, l.response_seconds,
           {_name("u")} AS assignee
    FROM customers_lead l LEFT JOIN crm_user u ON u.id = l.assignee_id
    WHERE l.customer_id = %(id)s ORDER BY l.received_at DESC LIMIT 50) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT w.started_at, w.ended_at, w.reason, {_name("o")} AS owner, {_name("b")} AS changed_by
    FROM customers_customerownership w LEFT JOIN crm_user o ON o.id = w.owner_id
    LEFT JOIN crm_user b ON b.id = w.changed_by_id
    WHERE w.customer_id = %(id)s ORDER BY w.started_at DESC, w.id DESC LIMIT 20) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT p.id, p.name, p.stage, p.contract_amount_fen, p.signed_on, p.handed_over_on,
           {_name("m")} AS project_manager
    FROM projects_project p LEFT JOIN crm_user m ON m.id = p.project_manager_id
    WHERE p.customer_id = %(id)s ORDER BY p.id) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (SELECT s.stage, s.name FROM projects_stagesetting s) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT h.changed_at, h.from_stage, h.to_stage, h.reason, p.name, {_name("u")} AS changed_by
    FROM projects_stagehistory h JOIN projects_project p ON p.id = h.project_id
    LEFT JOIN crm_user u ON u.id = h.changed_by_id
    WHERE p.customer_id = %(id)s ORDER BY h.changed_at DESC LIMIT 200) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT t.created_at, t.category, t.status, t.description, {_name("u")} AS created_by
    FROM aftercare_serviceticket t LEFT JOIN crm_user u ON u.id = t.created_by_id
    WHERE t.customer_id = %(id)s ORDER BY t.created_at DESC) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT v.completed_at, v.findings, k.name AS kind, {_name("u")} AS technician
    FROM aftercare_visit v JOIN aftercare_maintenanceplan m ON m.id = v.plan_id
    JOIN aftercare_plankind k ON k.id = m.kind_id LEFT JOIN crm_user u ON u.id = v.technician_id
    WHERE v.customer_id = %(id)s AND v.status = 'completed') x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT s.answered_at, s.kind, s.score, s.comment FROM aftercare_survey s
    WHERE s.customer_id = %(id)s AND s.answered_at IS NOT NULL) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT m.due_on, m.status, k.name AS kind, p.name AS project, {_name("u")} AS assigned_to
    FROM aftercare_maintenanceplan m JOIN aftercare_plankind k ON k.id = m.kind_id
    JOIN projects_project p ON p.id = m.project_id LEFT JOIN crm_user u ON u.id = m.assigned_to_id
    WHERE m.customer_id = %(id)s ORDER BY m.due_on) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT a.starts_at, a.kind, a.place, a.status, {_name("u")} AS staff FROM sales_appointment a
    LEFT JOIN crm_user u ON u.id = a.staff_id WHERE a.customer_id = %(id)s ORDER BY a.starts_at) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT t.due_at, t.title, {_name("u")} AS assignee FROM sales_task t
    LEFT JOIN crm_user u ON u.id = t.assignee_id
    WHERE t.customer_id = %(id)s AND t.done_at IS NULL ORDER BY t.due_at) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT q.number, q.version, q.status, q.total_fen FROM quotes_quotation q
    WHERE q.customer_id = %(id)s ORDER BY q.created_at DESC) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT pp.id, pp.contract_amount_fen, pp.adjustments_fen, m.amount_fen, m.due_on,
           (SELECT sum(a.amount_fen) FROM payments_paymentallocation a WHERE a.milestone_id = m.id) AS paid
    FROM payments_paymentplan pp JOIN payments_paymentmilestone m ON m.plan_id = pp.id
    WHERE pp.customer_id = %(id)s) x),
 (SELECT coalesce(sum(r.amount_fen), 0) FROM payments_paymentreceipt r
    JOIN payments_paymentplan pp ON pp.id = r.plan_id WHERE pp.customer_id = %(id)s AND r.voided_at IS NULL),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT r.status, r.source, r.created_at, a.name AS referrer, b.name AS referred
    FROM referrals_referral r JOIN customers_customer a ON a.id = r.referrer_id
    JOIN customers_customer b ON b.id = r.referred_id
    WHERE r.referrer_id = %(id)s OR r.referred_id = %(id)s) x),
 (SELECT row_to_json(x) FROM (
    SELECT a.code, a.balance_fen, a.shortfall_fen, a.credited_referrals, a.is_vip, s.vip_title
    FROM referrals_referralaccount a LEFT JOIN referrals_referralsettings s ON true
    WHERE a.customer_id = %(id)s LIMIT 1) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT e.created_at, e.kind, e.amount_fen, e.description, {_name("u")} AS created_by
    FROM referrals_ledgerentry e JOIN referrals_referralaccount a ON a.id = e.account_id
    LEFT JOIN crm_user u ON u.id = e.created_by_id
    WHERE a.customer_id = %(id)s ORDER BY e.id DESC LIMIT 50) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT e.occurred_at, e.channel, e.state, e.source, e.reason, e.actor_name
    FROM engagement_consentevent e WHERE e.customer_id = %(id)s ORDER BY e.occurred_at DESC LIMIT 100) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT c.channel, c.state, c.source, c.version, c.changed_at FROM engagement_consent c
    WHERE c.customer_id = %(id)s) x),
 (SELECT row_to_json(x) FROM (
    SELECT s.score, s.method, s.factors FROM engagement_leadscore s JOIN customers_lead l ON l.id = s.lead_id
    WHERE s.customer_id = %(id)s ORDER BY l.received_at DESC LIMIT 1) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT d.decided_at, d.sent_at, d.status, d.skip_reason, d.open_count, d.click_count, r.channel, i.title
    FROM engagement_pushdispatch d JOIN engagement_pushrule r ON r.id = d.rule_id
    JOIN engagement_contentitem i ON i.id = r.item_id
    WHERE d.customer_id = %(id)s ORDER BY d.decided_at DESC LIMIT 100) x)
"""

PROJECT_DETAIL_SQL = f"""
SELECT
 (SELECT row_to_json(x) FROM (
    SELECT p.*, c.name AS customer_name, c.phone AS customer_phone, {_name("d")} AS designer,
           {_name("m")} AS project_manager, {_name("s")} AS supervisor, {_name("o")} AS service_owner
    FROM projects_project p JOIN customers_customer c ON c.id = p.customer_id
    LEFT JOIN crm_user d ON d.id = p.designer_id LEFT JOIN crm_user m ON m.id = p.project_manager_id
    LEFT JOIN crm_user s ON s.id = p.supervisor_id LEFT JOIN crm_user o ON o.id = p.service_owner_id
    WHERE p.id = %(id)s) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT h.changed_at, h.from_stage, h.to_stage, h.direction, h.reason, {_name("u")} AS changed_by
    FROM projects_stagehistory h LEFT JOIN crm_user u ON u.id = h.changed_by_id
    WHERE h.project_id = %(id)s ORDER BY h.changed_at, h.id) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT a.kind, a.passed, a.notes, a.accepted_on, {_name("u")} AS recorded_by
    FROM projects_acceptance a LEFT JOIN crm_user u ON u.id = a.recorded_by_id
    WHERE a.project_id = %(id)s ORDER BY a.id) x),
 (SELECT coalesce(sum(amount_delta_fen), 0) FROM projects_changeorder
    WHERE project_id = %(id)s AND status = 'approved'),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT a.starts_at, a.kind, a.place, a.status, {_name("u")} AS staff FROM sales_appointment a
    LEFT JOIN crm_user u ON u.id = a.staff_id WHERE a.project_id = %(id)s ORDER BY a.starts_at) x),
 (SELECT coalesce(json_agg(x), '[]') FROM (
    SELECT t.due_at, t.title, {_name("u")} AS assignee FROM sales_task t
    LEFT JOIN crm_user u ON u.id = t.assignee_id
    WHERE t.project_id = %(id)s AND t.done_at IS NULL ORDER BY t.due_at) x)
"""


def raw_sections(sql: str, params: dict, tenant_id: int) -> bytes:
    """The limit: one transaction, the tenant setting, ONE statement, each section -> a table."""
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
        cursor.execute(sql, params or None)
        sections = cursor.fetchone()
        cursor.execute("COMMIT")
    tables = []
    for section in sections:
        items = section if isinstance(section, list) else [section]
        cells = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(value))}</td>"
                for value in (item.values() if isinstance(item, dict) else [item])
            )
            + "</tr>"
            for item in items
        )
        tables.append(f"<table>{cells}</table>")
    return f"<html><body>{''.join(tables)}</body></html>".encode()


def detail_fixture(tenant, manager):
    """The customer (and its first project) the detail pages show; created once per database."""
    from crm.models import Role, User
    from crm.tenancy import tenant_context
    from customers.models import Customer
    from projects.models import Project

    with tenant_context(tenant):
        customer = Customer.objects.filter(name=DETAIL_CUSTOMER).first()
        if customer is None:
            from tests.aftercare.factories import ServiceTicketFactory
            from tests.customers.factories import CustomerFactory, FollowUpFactory, LeadFactory
            from tests.projects.factories import (
                AcceptanceFactory,
                DailyLogFactory,
                ProjectFactory,
                StageHistoryFactory,
            )
            from tests.sales.factories import make_appointment, make_task

            sales = User.objects.filter(tenant=tenant, roles__contains=[Role.SALES]).first()
            customer = CustomerFactory(tenant=tenant, name=DETAIL_CUSTOMER, owner=sales)
            for _ in range(40):
                FollowUpFactory(tenant=tenant, customer=customer, author=sales)
            for _ in range(3):
                LeadFactory(tenant=tenant, customer=customer, assignee=sales)
            for _ in range(2):
                project = ProjectFactory(tenant=tenant, customer=customer, signed=True, designer=sales)
                for _ in range(8):
                    StageHistoryFactory(tenant=tenant, project=project, changed_by=manager)
                for _ in range(10):
                    DailyLogFactory(tenant=tenant, project=project, author=manager)
                AcceptanceFactory(tenant=tenant, project=project)
                ServiceTicketFactory(tenant=tenant, customer=customer, project=project)
                for _ in range(2):
                    make_appointment(tenant, customer=customer, project=project, staff=sales)
                    make_task(tenant, customer=customer, project=project, assignee=sales)
        project = Project.objects.filter(customer=customer).order_by("pk").first()
    return customer, project


def measure_pages(
    *,
    tenant,
    manager,
    client,
    requests: int,
    interleaved: Callable[..., tuple[float, float]],
    count_statements: Callable[[Callable[[], object]], int],
) -> dict:
    customer, project = detail_fixture(tenant, manager)
    customer_url = f"/customers/{customer.pk}/"
    cases = [
        ("lead inbox", "/customers/leads/", LEAD_INBOX_SQL, {}),
        ("customer detail + timeline", customer_url, CUSTOMER_DETAIL_SQL, {"id": customer.id}),
        ("project detail", f"/projects/{project.pk}/", PROJECT_DETAIL_SQL, {"id": project.pk}),
    ]
    results = {}
    for label, url, sql, params in cases:
        assert client.get(url).status_code == 200, url
        statements = count_statements(lambda url=url: client.get(url))
        results[label] = interleaved(
            label,
            lambda url=url: client.get(url),
            lambda sql=sql, params=params: raw_sections(sql, params, tenant.pk),
            requests,
            TARGET,
            statements,
        )
    return results
