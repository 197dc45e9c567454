"""Reads shared by the customers pages, API, exports and dashboards."""

from __future__ import annotations

import datetime
import math
import statistics
from collections import defaultdict
from html import escape
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from django.apps import apps
from django.db.models import Field, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from crm import extensions
from crm.models import Tenant, User
from crm.money import format_fen
from crm.page_cache import page_cache_forget, page_cache_key, page_cached
from crm.selectors import staff_names
from customers.models import (
    Customer,
    CustomerAuditLog,
    CustomerMerge,
    CustomerOwnership,
    FollowUp,
    Lead,
    LeadStatus,
    Segment,
    SourceChannel,
    mask_phone,
)
from customers.visibility import (
    customer_ids_with_full_phone,
    customers_visible_to,
    full_phone_visible,
    leads_visible_to,
)

if TYPE_CHECKING:
    from collections.abc import Iterable


def customers_for_list(*, tenant: Tenant, user: User | None = None) -> QuerySet[Customer]:
    """The list's base queryset, narrowed to what ``user`` may see (``customers.visibility``):
    one query per page whatever its size (owner/designer joined). ``user=None`` is for system code."""
    customers = Customer.objects.select_related("owner", "designer").order_by("-created_at", "-id")
    return customers if user is None else customers_visible_to(user, customers)


def customers_for_api_list(*, tenant: Tenant, user: User | None = None) -> QuerySet[Customer]:
    """The API list, narrowed like :func:`customers_for_list`; owner and designer are written as
    ids, so nothing is joined."""
    customers = Customer.objects.filter(merged_at__isnull=True).order_by("-created_at", "-id")
    return customers if user is None else customers_visible_to(user, customers)


def ownership_history(*, tenant: Tenant, customer_id: int) -> QuerySet[CustomerOwnership]:
    """Who held the customer from when to when, newest first (``owner`` empty = pool/unassigned)."""
    return (
        CustomerOwnership.objects.filter(customer_id=customer_id)
        .select_related("owner", "changed_by")
        .order_by("-started_at", "-id")
    )


def customers_to_reassign(*, tenant: Tenant, owner: User | None) -> QuerySet[Customer]:
    """A departing rep's customers and the customers of the open leads assigned to them."""
    from customers.services.reassign import reassignable_customers

    return (
        Customer.objects.filter(reassignable_customers(owner=owner))
        .filter(merged_at__isnull=True, anonymised_at__isnull=True)
        .select_related("owner")
        .order_by("pk")
    )


def merges_for_list(*, tenant: Tenant) -> QuerySet[CustomerMerge]:
    return CustomerMerge.objects.select_related("survivor", "duplicate", "merged_by", "undone_by").order_by(
        "-merged_at", "-id"
    )


FUNNEL_STEPS = ("responded", "measured", "design", "quoted", "signed", "handed_over")


def _project_exists(**lookups: Any) -> Q:
    # Projects report facts to customers; the funnel reads them by model name (no import upward).
    # An uncorrelated IN (not a correlated EXISTS): PostgreSQL hashes it once per query instead of
    # re-running it per customer inside every aggregate FILTER (the funnel has dozens of them).
    project = apps.get_model("projects", "Project")
    return Q(pk__in=project.objects.filter(**lookups).values("customer_id"))


def _stages_from(stage: str) -> list[str]:
    field = apps.get_model("projects", "Project")._meta.get_field("stage")
    order = [value for value, _label in field.choices or ()]
    return order[order.index(stage) :]


def funnel_reached_q(step: str) -> Q:
    """Customers who reached at least ``step`` of the sales funnel (each step includes the later ones).

    responded: a human follow-up was logged · measured: a 量房 follow-up (``measured_at``) ·
    design: a designer assigned or a project in 设计 or later · quoted: a project in 报价 or later
    (no quotation records exist yet; the stage is the closest real signal) · signed: a project
    with a signed contract (also if later cancelled) · handed_over: a handed-over project.
    """
    own = {
        "responded": lambda: Q(last_touch_at__isnull=False),
        "measured": lambda: Q(measured_at__isnull=False),
        "design": lambda: Q(designer__isnull=False) | _project_exists(stage__in=_stages_from("design")),
        "quoted": lambda: _project_exists(stage__in=_stages_from("quotation")),
        "signed": lambda: _project_exists(signed_on__isnull=False),
        "handed_over": lambda: _project_exists(handed_over_on__isnull=False),
    }
    if step not in own:
        raise ValueError(f"unknown funnel step {step!r}")
    condition = Q()
    for later in FUNNEL_STEPS[FUNNEL_STEPS.index(step) :]:
        condition |= own[later]()
    return condition


def leads_for_inbox(
    *, tenant: Tenant, user: User | None = None, mine: bool = False, by_score: bool = False
) -> QuerySet[Lead]:
    """Open leads, most urgent first (or best lead score first, from the scoring app)."""
    leads = Lead.objects.filter(status=LeadStatus.OPEN).select_related("customer", "assignee")
    if user is not None:
        leads = leads_visible_to(user, leads)
    if mine and user is not None:
        leads = leads.filter(assignee=user)
    if by_score:
        return extensions.order_leads_by_score(leads)
    return leads.order_by("first_response_due_at", "id")


def pool_customers(*, tenant: Tenant, user: User | None = None) -> QuerySet[Customer]:
    pool = (
        Customer.objects.filter(in_pool=True)
        .select_related("owner", "designer")
        .order_by("-pooled_at", "-id")
    )
    return pool if user is None else customers_visible_to(user, pool)


def follow_ups_for_customer(*, tenant: Tenant, customer_id: int) -> QuerySet[FollowUp]:
    return (
        FollowUp.objects.filter(customer_id=customer_id)
        .select_related("author")
        .order_by("-occurred_at", "-id")
    )


def segments_for_list(*, tenant: Tenant) -> QuerySet[Segment]:
    return Segment.objects.select_related("created_by").order_by("name")


SEGMENT_MENU_SECONDS = 300


def segment_menu(*, tenant: Tenant) -> list[dict]:
    """The list page's saved-segment menu (``pk``, ``name``), cached per tenant; dropped by any
    segment save or delete (:func:`segment_menu_forget`)."""
    return page_cached(
        segment_menu_key(tenant.pk),
        lambda: list(Segment.objects.order_by("name").values("pk", "name")),
        timeout=SEGMENT_MENU_SECONDS,
    )


def segment_menu_key(tenant_id: int) -> str:
    return page_cache_key("segments", tenant_id)


def segment_menu_forget(sender: type, instance: Segment, **kwargs: object) -> None:  # noqa: ARG001 - signal receiver
    page_cache_forget([segment_menu_key(instance.tenant_id)])


LIST_LABEL_FIELDS = (
    "customer_type",
    "budget_tier",
    "source_channel",
    "lifecycle",
    "intent",
    "follow_up_status",
    "activity",
    "value_tier",
)


_choice_labels: dict[str, dict[str, dict[str, str]]] = {}


def choice_labels() -> dict[str, dict[str, str]]:
    """``{field: {value: label}}`` in the active language, translated once per process and
    language (model ``get_FOO_display`` re-hashes every lazy label on each call, which dominated
    the list page's render time; the choices are fixed in code)."""
    language = get_language() or ""
    labels = _choice_labels.get(language)
    if labels is None:
        labels = _choice_labels[language] = {
            name: {
                value: str(label) for value, label in cast(Field, Customer._meta.get_field(name)).flatchoices
            }
            for name in LIST_LABEL_FIELDS
        }
    return labels


SYSTEM_TAG = '<span class="cust-tag sys">{}</span>'
TAG = '<span class="cust-tag">{}</span>'


#: The columns the list page reads (``.values()``: no model instances, ~20 of 60 columns).
LIST_ROW_FIELDS = (
    "id",
    "name",
    "phone",
    "wechat_id",
    "anonymised_at",
    "owner_id",
    "community",
    "layout",
    "area_sqm",
    "budget_fen",
    "in_pool",
    "value_tier",
    "activity",
    "system_tags",
    "tags",
    *LIST_LABEL_FIELDS,
)


def list_rows(user: User, records: Iterable[dict], *, tenant: Tenant) -> list[dict]:
    """The list page's rows from ``.values(*LIST_ROW_FIELDS)`` records, every cell's display value
    computed here once per row: the page only places them (``{% customer_rows %}``)."""
    from crm.templatetags.crm_ui import contact_button_labels, contact_buttons_html, tel_link

    labels, label_fields, buttons = choice_labels(), LIST_LABEL_FIELDS, contact_button_labels()
    records = list(records)
    # Whose full number the user may see, for the whole page at once (no query for managers).
    shown = [SimpleNamespace(pk=record["id"], owner_id=record["owner_id"]) for record in records]
    full_phone = customer_ids_with_full_phone(user, shown)  # type: ignore[arg-type]  # reads pk and owner_id
    owners = staff_names(tenant=tenant)
    detail_url = reverse("customers:detail", args=[0]).removesuffix("0/")
    rows = []
    for record in records:
        if record["anonymised_at"] is not None:
            phone = "—"
        elif record["id"] in full_phone:
            phone = record["phone"].removeprefix("+86")
        else:
            phone = mask_phone(record["phone"])
        owner_id = record["owner_id"]
        rows.append(
            {
                "url": f"{detail_url}{record['id']}/",
                "name": record["name"],
                "in_pool": record["in_pool"],
                "high_value": record["value_tier"] == "high",
                "phone": phone,
                "phone_html": SafeString(  # both parts are escaped HTML
                    f"{tel_link(phone)} {contact_buttons_html(phone, record['wechat_id'], buttons)}"
                ),
                "community": record["community"] or "—",
                "layout": record["layout"],
                "area": localize(record["area_sqm"]) if record["area_sqm"] else "",
                "budget": format_fen(record["budget_fen"]),
                "silent": record["activity"] == "silent",
                "owner": owners.get(owner_id, "—") if owner_id else "—",
                "tags_html": SafeString(
                    "".join(SYSTEM_TAG.format(escape(str(tag))) for tag in record["system_tags"])
                    + "".join(TAG.format(escape(str(tag))) for tag in record["tags"])
                ),
                **{f"{name}_label": labels[name].get(record[name], "") for name in label_fields},
            }
        )
    return rows


def customers_for_list_page(*, tenant: Tenant, user: User | None = None) -> QuerySet[Customer]:
    """The browser list's rows: the API list's statement (nothing joined; owner names come from
    :func:`crm.selectors.staff_names`)."""
    return customers_for_api_list(tenant=tenant, user=user)


def can_see_full_phone(user: User, customer: Customer) -> bool:
    """Managers, the owner and the people on the customer's work (``customers.visibility``)."""
    return full_phone_visible(user, customer)


def display_phone(user: User, customer: Customer) -> str:
    if customer.is_anonymised:
        return "—"
    return customer.phone.removeprefix("+86") if can_see_full_phone(user, customer) else customer.masked_phone


def display_email(user: User, customer: Customer) -> str:
    """The address in full for those who see the full phone (same contact rights), else masked."""
    if customer.is_anonymised or not customer.email:
        return ""
    return customer.email if can_see_full_phone(user, customer) else customer.masked_email


def display_phones(user: User, customers: list[Customer]) -> dict[int, str]:
    """:func:`display_phone` of many customers at once (one visibility query for the lot)."""
    full_phone = customer_ids_with_full_phone(user, customers)
    return {
        customer.pk: "—"
        if customer.is_anonymised
        else (customer.phone.removeprefix("+86") if customer.pk in full_phone else customer.masked_phone)
        for customer in customers
    }


def _percentile(sorted_values: list[int], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (same as PostgreSQL percentile_cont)."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def lead_response_stats(
    *, tenant: Tenant, since: datetime.datetime | None = None, until: datetime.datetime | None = None
) -> dict:
    """Count, median and p90 response time (seconds) and breach rate per sales user and per channel.

    A lead counts as breached when it was answered late, or is still unanswered past its due time.
    """
    now = timezone.now()
    since = since or now - datetime.timedelta(days=30)
    until = until or now
    rows = Lead.objects.filter(received_at__gte=since, received_at__lt=until).values(
        "assignee_id",
        "first_responder_id",
        "source_channel",
        "response_seconds",
        "first_response_due_at",
        "first_responded_at",
        "sla_breached",
    )
    by_user: dict = defaultdict(list)
    by_channel: dict = defaultdict(list)
    for row in rows:
        late = row["sla_breached"] or (
            row["first_responded_at"] > row["first_response_due_at"]
            if row["first_responded_at"]
            else row["first_response_due_at"] < now
        )
        item = (row["response_seconds"], late)
        by_user[row["first_responder_id"] or row["assignee_id"]].append(item)
        by_channel[row["source_channel"]].append(item)
    users = {user.pk: user for user in User.objects.filter(pk__in=[pk for pk in by_user if pk])}
    channel_labels = dict(SourceChannel.choices)

    def summarise(items: list) -> dict:
        seconds = sorted(value for value, _late in items if value is not None)
        return {
            "count": len(items),
            "responded": len(seconds),
            "median_seconds": statistics.median(seconds) if seconds else None,
            "p90_seconds": _percentile(seconds, 0.9),
            "breached": sum(1 for _value, late in items if late),
            "breach_rate": round(sum(1 for _value, late in items if late) / len(items), 4) if items else 0.0,
        }

    return {
        "since": since,
        "until": until,
        "by_user": sorted(
            (
                {"user_id": pk, "user": str(users.get(pk, _("未分配"))), **summarise(items)}
                for pk, items in by_user.items()
            ),
            key=lambda entry: entry["user"],
        ),
        "by_channel": sorted(
            (
                {"channel": channel, "label": str(channel_labels.get(channel, channel)), **summarise(items)}
                for channel, items in by_channel.items()
            ),
            key=lambda entry: entry["channel"],
        ),
    }


def audit_log_for_list(*, tenant: Tenant) -> QuerySet[CustomerAuditLog]:
    return CustomerAuditLog.objects.select_related("actor", "customer").order_by("-created_at", "-id")


def customer_survivor(customer: Customer) -> Customer:
    """The customer a merged duplicate now lives on (itself if never merged).

    Codes, links and phone numbers printed before a merge still reach the archived duplicate;
    anything new they create (a referral, a credit) belongs to the survivor. A survivor can itself
    be merged later, so the chain is followed (bounded: a merge never points back, see merge undo).
    """
    current = customer
    for _hop in range(10):
        if current.merged_into_id is None:
            return current
        found = Customer.objects.filter(pk=current.merged_into_id).first()
        if found is None:
            return current
        current = found
    return current
