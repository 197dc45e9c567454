"""Reads of the customer detail page (issue 12): this app's timeline section and the page's own data
sets (leads, ownership, the survivor of a merge) as ``crm.page_data`` fragments, read together with
every other app's section in one statement (``crm.extensions.customer_page``)."""

from __future__ import annotations

from types import SimpleNamespace

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.extensions import CustomerSection, TimelineEntry
from crm.page_data import PageQuery, at, label, person, row, rows, when
from customers.models import FollowUpKind, FollowUpOutcome, LeadStatus, OwnershipReason, SourceChannel

FOLLOW_UPS_SQL = f"""
SELECT f.occurred_at, f.kind, f.outcome, f.content, f.next_follow_up_at, {person("u")} AS author
FROM customers_followup f LEFT JOIN crm_user u ON u.id = f.author_id
WHERE f.tenant_id = %s AND f.customer_id = %s ORDER BY f.occurred_at DESC, f.id DESC LIMIT 200"""

LEADS_SQL = f"""
SELECT l.received_at, l.source_channel, l.note, l.status, l.sla_breached, l.response_seconds,
       {person("u")} AS assignee
FROM customers_lead l LEFT JOIN crm_user u ON u.id = l.assignee_id
WHERE l.tenant_id = %s AND l.customer_id = %s ORDER BY l.received_at DESC, l.id DESC LIMIT 50"""

OWNERSHIP_SQL = f"""
SELECT w.started_at, w.ended_at, w.reason, {person("o")} AS owner, {person("b")} AS changed_by
FROM customers_customerownership w LEFT JOIN crm_user o ON o.id = w.owner_id
LEFT JOIN crm_user b ON b.id = w.changed_by_id
WHERE w.tenant_id = %s AND w.customer_id = %s ORDER BY w.started_at DESC, w.id DESC LIMIT 20"""

MERGED_INTO_SQL = "SELECT c.id, c.name FROM customers_customer c WHERE c.tenant_id = %s AND c.id = %s"


def _timeline_queries(*, tenant, customer_id: int) -> dict[str, PageQuery]:
    return {
        "follow_ups": rows(FOLLOW_UPS_SQL, [tenant.pk, customer_id]),
        "leads": rows(LEADS_SQL, [tenant.pk, customer_id]),
    }


def _timeline(*, data: dict) -> list[TimelineEntry]:
    """Follow-ups and inquiries, worded as before (``selectors.follow_up_timeline``)."""
    entries = []
    for follow_up in data["follow_ups"]:
        next_at = when(follow_up["next_follow_up_at"])
        entries.append(
            TimelineEntry(
                occurred_at=at(follow_up["occurred_at"]),
                kind="follow_up",
                title=_("%(kind)s跟进") % {"kind": label(FollowUpKind, follow_up["kind"])}
                + (f" · {label(FollowUpOutcome, follow_up['outcome'])}" if follow_up["outcome"] else ""),
                detail=follow_up["content"]
                + (
                    _("（下次跟进：%(when)s）") % {"when": f"{timezone.localtime(next_at):%Y-%m-%d %H:%M}"}
                    if next_at
                    else ""
                ),
                actor=follow_up["author"] or "",
            )
        )
    inbox = reverse("customers:lead-inbox")
    for lead in data["leads"]:
        entries.append(
            TimelineEntry(
                occurred_at=at(lead["received_at"]),
                kind="lead",
                title=_("新询盘 · %(channel)s") % {"channel": label(SourceChannel, lead["source_channel"])},
                detail=lead["note"],
                url=inbox,
                actor=lead["assignee"] or "",
            )
        )
    return entries


SECTION = CustomerSection(name="customers", timeline_queries=_timeline_queries, timeline=_timeline)


def page_queries(*, tenant, customer) -> dict[str, PageQuery]:
    """The detail page's own data sets: the ten latest leads, twenty ownership periods, the survivor."""
    queries = {"ownership": rows(OWNERSHIP_SQL, [tenant.pk, customer.pk])}
    if customer.merged_into_id:
        queries["merged_into"] = row(MERGED_INTO_SQL, [tenant.pk, customer.merged_into_id])
    return queries


def page_leads(timeline_leads: list[dict]) -> list[SimpleNamespace]:
    """The inquiries panel: the timeline's leads (newest first), the ten latest."""
    leads = []
    for lead in timeline_leads[:10]:
        leads.append(
            SimpleNamespace(
                received_at=when(lead["received_at"]),
                source_channel_label=label(SourceChannel, lead["source_channel"]),
                status_label=label(LeadStatus, lead["status"]),
                sla_breached=lead["sla_breached"],
                response_seconds=lead["response_seconds"],
            )
        )
    return leads


def page_ownership(periods: list[dict]) -> list[SimpleNamespace]:
    return [
        SimpleNamespace(
            owner=period["owner"] or "",
            started_at=when(period["started_at"]),
            ended_at=when(period["ended_at"]),
            reason=period["reason"],
            reason_label=label(OwnershipReason, period["reason"]),
            changed_by=period["changed_by"] or "",
        )
        for period in periods
    ]
