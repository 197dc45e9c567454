"""Every domain event type, with its payload schema, in one list.

A publisher passes exactly the keys its type declares (a misspelt or missing key is a programming
error raised at publish time, inside the caller's transaction). Webhook receivers and the event
feed see the same payload, so these schemas are a public contract: add keys, never rename them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EventSpec:
    name: str
    aggregate: str  # the aggregate type the event is about (``project``, ``customer`` …)
    description: str
    payload: dict[str, type | tuple[type, ...]] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()

    @property
    def aggregate_key(self) -> str:
        return f"{self.aggregate}_id"


INT = int
OPT_INT = (int, type(None))
STR = str

_SPECS = [
    EventSpec(
        "lead.created",
        "lead",
        "A lead (inquiry) was recorded.",
        {"lead_id": INT, "customer_id": INT, "referral_code": STR},
        frozenset({"referral_code"}),
    ),
    EventSpec(
        "lead.assigned",
        "lead",
        "A lead got (or changed) its sales owner.",
        {"lead_id": INT, "customer_id": INT, "assignee_id": OPT_INT},
    ),
    EventSpec(
        "lead.sla_breached",
        "lead",
        "A lead's first response passed its SLA deadline.",
        {"lead_id": INT, "customer_id": INT},
    ),
    EventSpec("customer.created", "customer", "A customer was created.", {"customer_id": INT}),
    EventSpec(
        "customer.updated",
        "customer",
        "A customer's details changed.",
        {"customer_id": INT, "fields": list},
        frozenset({"fields"}),
    ),
    EventSpec(
        "follow_up.created",
        "follow_up",
        "A follow-up was recorded for a customer.",
        {"follow_up_id": INT, "customer_id": INT},
    ),
    EventSpec(
        "project.created", "project", "A project was created.", {"project_id": INT, "customer_id": INT}
    ),
    EventSpec(
        "project.stage_changed",
        "project",
        "A project moved to another stage.",
        {"project_id": INT, "customer_id": INT, "from_stage": STR, "to_stage": STR},
    ),
    EventSpec(
        "project.contract_signed",
        "project",
        "The decoration contract was signed.",
        {"project_id": INT, "customer_id": INT},
    ),
    EventSpec(
        "project.contract_cancelled",
        "project",
        "A signed contract was cancelled.",
        {"project_id": INT, "customer_id": INT},
    ),
    EventSpec(
        "project.handed_over",
        "project",
        "The finished home was handed over.",
        {"project_id": INT, "customer_id": INT},
    ),
    EventSpec(
        "project.milestone",
        "project",
        "A customer-facing milestone (design approval, plumbing & electrical acceptance).",
        {"project_id": INT, "customer_id": INT, "milestone": STR},
    ),
    EventSpec(
        "change_order.decided",
        "change_order",
        "The customer approved or rejected a change order.",
        {"change_order_id": INT, "project_id": INT, "status": STR},
    ),
    EventSpec(
        "inspection.failed",
        "inspection",
        "A QC inspection found problems.",
        {"inspection_id": INT, "project_id": INT},
    ),
    EventSpec(
        "aftercare.plan_due",
        "plan",
        "A maintenance plan's reminder was decided (it is due soon or overdue).",
        {"plan_id": INT, "project_id": INT, "offset_days": INT},
    ),
    EventSpec(
        "aftercare.visit_completed",
        "visit",
        "A maintenance visit was completed.",
        {"visit_id": INT, "plan_id": OPT_INT, "project_id": INT},
    ),
    EventSpec(
        "ticket.created",
        "ticket",
        "A service ticket was opened.",
        {"ticket_id": INT, "customer_id": INT},
    ),
    EventSpec(
        "ticket.sla_breached",
        "ticket",
        "A service ticket passed its SLA deadline.",
        {"ticket_id": INT, "customer_id": INT},
    ),
    EventSpec(
        "referral.credited",
        "referral",
        "A referrer was credited decoration fund for a signed contract.",
        {"referral_id": INT, "customer_id": INT, "amount_fen": INT},
    ),
    EventSpec(
        "referral.redeemed",
        "referral_account",
        "Decoration fund was redeemed.",
        {"referral_account_id": INT, "customer_id": INT, "amount_fen": INT},
    ),
    EventSpec(
        "survey.answered",
        "survey",
        "A customer answered a CSAT/NPS survey.",
        {"survey_id": INT, "customer_id": INT, "kind": STR, "score": INT},
    ),
    EventSpec(
        "record.deleted",
        "record",
        "A row was deleted through the API or a page: the tombstone a syncing client applies. "
        "`collection` is the API collection's path (e.g. `segments`), `record_id` the row's id.",
        {"record_id": INT, "collection": STR},
    ),
]

EVENT_TYPES: dict[str, EventSpec] = {spec.name: spec for spec in _SPECS}


class EventType:
    """Names to publish and subscribe with (``events.publish(EventType.PROJECT_HANDED_OVER, ...)``)."""

    LEAD_CREATED = "lead.created"
    LEAD_ASSIGNED = "lead.assigned"
    LEAD_SLA_BREACHED = "lead.sla_breached"
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    FOLLOW_UP_CREATED = "follow_up.created"
    PROJECT_CREATED = "project.created"
    PROJECT_STAGE_CHANGED = "project.stage_changed"
    PROJECT_CONTRACT_SIGNED = "project.contract_signed"
    PROJECT_CONTRACT_CANCELLED = "project.contract_cancelled"
    PROJECT_HANDED_OVER = "project.handed_over"
    PROJECT_MILESTONE = "project.milestone"
    CHANGE_ORDER_DECIDED = "change_order.decided"
    INSPECTION_FAILED = "inspection.failed"
    AFTERCARE_PLAN_DUE = "aftercare.plan_due"
    AFTERCARE_VISIT_COMPLETED = "aftercare.visit_completed"
    TICKET_CREATED = "ticket.created"
    TICKET_SLA_BREACHED = "ticket.sla_breached"
    REFERRAL_CREDITED = "referral.credited"
    REFERRAL_REDEEMED = "referral.redeemed"
    SURVEY_ANSWERED = "survey.answered"
    RECORD_DELETED = "record.deleted"


assert {v for k, v in vars(EventType).items() if k.isupper()} == set(EVENT_TYPES)


class EventPayloadError(ValueError):
    """A publisher passed an unknown type or a payload that doesn't match its schema."""


def validate_payload(event_type: str, payload: dict) -> EventSpec:
    spec = EVENT_TYPES.get(event_type)
    if spec is None:
        raise EventPayloadError(f"unknown event type {event_type!r}; declare it in crm/events/types.py")
    unknown = set(payload) - set(spec.payload)
    missing = set(spec.payload) - set(payload) - spec.optional
    if unknown or missing:
        raise EventPayloadError(
            f"{event_type}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}"
        )
    for key, value in payload.items():
        expected = spec.payload[key]
        allowed_none = value is None and key in spec.optional
        if (isinstance(value, bool) or not isinstance(value, expected)) and not allowed_none:
            raise EventPayloadError(f"{event_type}.{key}: {type(value).__name__} is not {expected}")
    return spec
