"""Event subscribers of the engagement app (registered in ``EngagementConfig.ready``).

Push triggers: the outbox delivers each event at least once; the dispatch row's unique
(rule, customer, period) makes a redelivered event send nothing the second time.
"""

from __future__ import annotations

from crm.models import Tenant
from customers.models import Customer
from engagement.models import PushRule, PushTrigger
from engagement.services.campaigns import link_redemptions_to_contract
from engagement.services.pushes import push_rules_fire_event
from engagement.services.scoring import leads_rescore

TAG_FIELDS = {"tags", "system_tags"}
YEAR_VISIT_MONTHS = 12


def on_lead_created(*, tenant: Tenant, lead_id: int, **payload) -> None:
    """Event handler: a new lead gets a score at once (from the stored model or the rules)."""
    leads_rescore(tenant=tenant, lead_ids=[lead_id])


def _fire_tag_rules(*, tenant: Tenant, customer_id: int, event: str) -> None:
    wanted = set(
        PushRule.objects.filter(tenant=tenant, is_active=True, trigger=PushTrigger.TAG_ADDED).values_list(
            "trigger_tag", flat=True
        )
    )
    if not wanted:
        return
    customer = Customer.objects.filter(tenant=tenant, pk=customer_id).only("tags", "system_tags").first()
    if customer is None:
        return
    for tag in sorted(wanted & (set(customer.tags or []) | set(customer.system_tags or []))):
        push_rules_fire_event(
            tenant=tenant,
            trigger=PushTrigger.TAG_ADDED,
            customer_id=customer_id,
            trigger_ref=f"{event}:{tag}",
            match=tag,
        )


def on_customer_updated(*, tenant: Tenant, customer_id: int, fields: list | None = None, **payload) -> None:
    """Event handler: tags changed — fire the rules of the tags the customer now has (a tag already
    pushed this period is not pushed again: exactly once per rule, customer and period)."""
    if fields is not None and not TAG_FIELDS.intersection(fields):
        return
    _fire_tag_rules(tenant=tenant, customer_id=customer_id, event="customer.updated")


def on_project_stage_changed(
    *, tenant: Tenant, project_id: int, customer_id: int, to_stage: str, **payload
) -> None:
    """Event handler: a project reached a stage — fire that stage's rules for its customer."""
    push_rules_fire_event(
        tenant=tenant,
        trigger=PushTrigger.STAGE_REACHED,
        customer_id=customer_id,
        trigger_ref=f"project:{project_id}:{to_stage}",
        match=to_stage,
    )


def on_aftercare_visit_completed(*, tenant: Tenant, visit_id: int, **payload) -> None:
    """Event handler: the 1-year maintenance visit (a plan kind 12 months after handover) completed."""
    from aftercare.models import Visit

    visit = Visit.objects.filter(tenant=tenant, pk=visit_id).select_related("plan__kind").first()
    if visit is None or visit.plan.kind.months_after_handover != YEAR_VISIT_MONTHS:
        return
    push_rules_fire_event(
        tenant=tenant,
        trigger=PushTrigger.YEAR_VISIT,
        customer_id=visit.customer_id,
        trigger_ref=f"visit:{visit_id}",
    )


def on_contract_signed(*, tenant: Tenant, project_id: int, **payload) -> None:
    """Event handler: offers redeemed against the project's accepted quotation now count for the
    contract (campaign signed figures); a redelivered event finds them linked and changes nothing."""
    link_redemptions_to_contract(tenant=tenant, project_id=project_id)
