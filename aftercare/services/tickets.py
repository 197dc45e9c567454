"""Service tickets: warranty check, create, transitions, SLA alerts and photos."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.models import (
    TICKET_TRANSITIONS,
    ServiceTicket,
    SlaKind,
    SurveyKind,
    SurveyTrigger,
    TicketCategory,
    TicketEvent,
    TicketPriority,
    TicketSlaAlert,
    TicketSource,
    TicketStatus,
)
from aftercare.services.dates import add_months, tenant_today
from aftercare.services.settings import aftercare_settings_get
from aftercare.services.surveys import survey_create
from crm import events
from crm.models import Tenant, User
from crm.permissions import RECEIVES_ESCALATIONS
from crm.selectors import staff_of_tenant
from crm.uploads import validate_image_file
from customers.services.settings import business_calendar_for
from projects.models import Project


def warranty_check(
    *, tenant: Tenant, project: Project, category: str, on: datetime.date
) -> tuple[bool, datetime.date | None]:
    """Within the tenant's warranty period for that category? Returns (covered, warranty end)."""
    if project.handed_over_on is None:
        return True, None  # still under construction: the company fixes it anyway
    years = aftercare_settings_get(tenant=tenant).warranty_years_for(category)
    until = add_months(project.handed_over_on, 12 * years)
    return on <= until, until


@transaction.atomic
def ticket_create(
    *,
    tenant: Tenant,
    project: Project,
    category: str,
    description: str,
    priority: str = TicketPriority.NORMAL,
    materials: str = "",
    source: str = TicketSource.STAFF,
    created_by: User | None = None,
    assigned_to: User | None = None,
) -> ServiceTicket:
    """Open a repair/warranty ticket with warranty check and SLA due times from tenant settings."""
    errors = {}
    if category not in TicketCategory.values:
        errors["category"] = _("请选择有效的类别。")
    if priority not in TicketPriority.values:
        errors["priority"] = _("请选择有效的优先级。")
    if not (description or "").strip():
        errors["description"] = _("请描述问题。")
    if errors:
        raise ValidationError(errors)
    project = Project.objects.get(pk=project.pk)  # scoped: another tenant's project is "does not exist"
    now = timezone.now()
    covered, until = warranty_check(
        tenant=tenant, project=project, category=category, on=tenant_today(tenant)
    )
    sla = aftercare_settings_get(tenant=tenant).sla_for(priority)
    # Ticket clocks run day and night on working days and stop on the tenant's closed days.
    clock = business_calendar_for(tenant=tenant, around=now).whole_days()
    ticket = ServiceTicket.objects.create(
        tenant=tenant,
        project=project,
        customer_id=project.customer_id,
        category=category,
        description=description.strip(),
        materials=materials,
        priority=priority,
        source=source,
        under_warranty=covered,
        warranty_until=until,
        first_response_due_at=clock.add_minutes(now, round(sla["first_response"] * 60)),
        resolution_due_at=clock.add_minutes(now, round(sla["resolution"] * 60)),
        created_by=created_by,
    )
    TicketEvent.objects.create(
        tenant=tenant,
        ticket=ticket,
        to_status=TicketStatus.OPEN,
        actor=created_by,
        note=_("保修期内") if covered else _("已过保修期"),
    )
    events.publish(
        events.EventType.TICKET_CREATED, tenant=tenant, ticket_id=ticket.pk, customer_id=ticket.customer_id
    )
    if assigned_to is not None:
        ticket = ticket_transition(
            tenant=tenant,
            ticket=ticket,
            to_status=TicketStatus.ASSIGNED,
            actor=created_by,
            assigned_to=assigned_to,
        )
    return ticket


@transaction.atomic
def ticket_transition(
    *,
    tenant: Tenant,
    ticket: ServiceTicket,
    to_status: str,
    actor: User | None,
    note: str = "",
    assigned_to: User | None = None,
) -> ServiceTicket:
    """Move a ticket along open → assigned → in progress → resolved → closed / reopened, with history.

    Leaving "open" is the first response; resolving sends the CSAT survey.
    """
    ticket = ServiceTicket.objects.select_for_update(of=("self",)).get(pk=ticket.pk)
    allowed = TICKET_TRANSITIONS.get(ticket.status, set())
    if to_status not in allowed:
        target = TicketStatus(to_status).label if to_status in TicketStatus.values else to_status
        raise ValidationError(
            {
                "status": _("工单不能从“%(old)s”变为“%(new)s”。")
                % {"old": ticket.get_status_display(), "new": target}
            }
        )
    if to_status == TicketStatus.ASSIGNED:
        assignee = assigned_to or ticket.assigned_to
        if assignee is None:
            raise ValidationError({"assigned_to": _("请选择处理人。")})
        if assignee.tenant_id != tenant.pk:
            raise ValidationError({"assigned_to": _("员工不存在。")})
        ticket.assigned_to = assignee
    now = timezone.now()
    from_status = ticket.status
    ticket.status = to_status
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now
    if to_status == TicketStatus.RESOLVED:
        ticket.resolved_at = now
    elif to_status == TicketStatus.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    elif to_status == TicketStatus.REOPENED:
        ticket.resolved_at = None
        ticket.closed_at = None
    ticket.save()
    TicketEvent.objects.create(
        tenant=tenant, ticket=ticket, from_status=from_status, to_status=to_status, actor=actor, note=note
    )
    if to_status == TicketStatus.RESOLVED:
        reopen_count = ticket.events.filter(to_status=TicketStatus.RESOLVED).count()
        survey_create(
            tenant=tenant,
            customer=ticket.customer,
            project=ticket.project,
            kind=SurveyKind.CSAT,
            trigger=SurveyTrigger.TICKET,
            ticket=ticket,
            dedupe_key=f"ticket-csat-{ticket.pk}-{reopen_count}",
        )
    return ticket


@transaction.atomic
def ticket_sla_alerts_send(*, tenant: Tenant, now: datetime.datetime | None = None) -> int:
    """Alert the assignee and managers about tickets past a due time — once per ticket and SLA kind."""
    from crm.notifications.services import notify  # noqa: PLC0415

    now = now or timezone.now()
    breaches = [
        (ticket, SlaKind.FIRST_RESPONSE)
        for ticket in ServiceTicket.objects.filter(first_responded_at=None, first_response_due_at__lt=now)
        .exclude(sla_alerts__kind=SlaKind.FIRST_RESPONSE)
        .select_related("project")
    ] + [
        (ticket, SlaKind.RESOLUTION)
        for ticket in ServiceTicket.objects.filter(resolved_at=None, resolution_due_at__lt=now)
        .exclude(sla_alerts__kind=SlaKind.RESOLUTION)
        .select_related("project", "assigned_to")
    ]
    managers = staff_of_tenant(tenant=tenant, duty=RECEIVES_ESCALATIONS) if breaches else []
    sent = 0
    for ticket, kind in breaches:
        try:
            with transaction.atomic():
                TicketSlaAlert.objects.create(tenant=tenant, ticket=ticket, kind=kind)
                events.publish(
                    events.EventType.TICKET_SLA_BREACHED,
                    tenant=tenant,
                    ticket_id=ticket.pk,
                    customer_id=ticket.customer_id,
                )
        except IntegrityError:
            continue  # another scan decided it first
        recipients = list(
            {user.pk: user for user in [*managers, ticket.assigned_to] if user is not None}.values()
        )
        notify(
            tenant=tenant,
            recipients=recipients,
            kind="aftercare_ticket_sla",
            title=f"工单 #{ticket.pk} {SlaKind(kind).label}：{ticket.project.name}",
            body=ticket.description[:200],
            link=f"/aftercare/tickets/{ticket.pk}/",
            dedupe_key=f"aftercare-sla-{ticket.pk}-{kind}",
        )
        sent += 1
    return sent


@transaction.atomic
def ticket_photos_add(*, tenant: Tenant, ticket: ServiceTicket, images: list) -> list:
    """Attach photos of the problem to a ticket (validated images only)."""
    from aftercare.models import TicketPhoto  # noqa: PLC0415

    for image in images:
        validate_image_file(image)
    return [TicketPhoto.objects.create(tenant=tenant, ticket=ticket, image=image) for image in images]
