"""Service tickets: warranty check per category, SLA due times, workflow with history, breach alerts once."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from aftercare.models import ServiceTicket, Survey, TicketEvent, TicketSlaAlert, TicketStatus
from aftercare.services import dates, settings, tickets
from crm.models import Role
from crm.notifications.models import Notification
from crm.tenancy import tenant_context

pytestmark = pytest.mark.django_db


@pytest.fixture
def today(tenant_a):
    return dates.tenant_today(tenant_a)


@pytest.mark.parametrize(
    ("category", "years_ago", "covered"),
    [
        ("plumbing", 1.5, True),
        ("plumbing", 2.5, False),
        ("waterproofing", 2.5, True),
        ("waterproofing", 4.9, True),
        ("waterproofing", 5.2, False),
    ],
)
def test_warranty_check_uses_tenant_years_per_category(
    tenant_a, handed_over, today, category, years_ago, covered
):
    project = handed_over(on=today - datetime.timedelta(days=int(365.25 * years_ago)))
    with tenant_context(tenant_a):
        ticket = tickets.ticket_create(
            tenant=tenant_a, project=project, category=category, description="漏水"
        )
    assert ticket.under_warranty is covered
    years = 5 if category == "waterproofing" else 2
    assert ticket.warranty_until == dates.add_months(project.handed_over_on, 12 * years)


def test_tenant_can_change_warranty_years(tenant_a, handed_over, today):
    project = handed_over(on=today - datetime.timedelta(days=int(365.25 * 2.5)))
    with tenant_context(tenant_a):
        config = settings.aftercare_settings_get(tenant=tenant_a)
        config.warranty_years = {"general": 3, "waterproofing": 10}
        config.save()
        ticket = tickets.ticket_create(tenant=tenant_a, project=project, category="tiles", description="空鼓")
    assert ticket.under_warranty is True


def test_sla_due_times_follow_priority(tenant_a, handed_over):
    project = handed_over()
    before = timezone.now()
    with tenant_context(tenant_a):
        urgent = tickets.ticket_create(
            tenant=tenant_a, project=project, category="electrical", description="跳闸", priority="urgent"
        )
        low = tickets.ticket_create(
            tenant=tenant_a, project=project, category="other", description="门吸松动", priority="low"
        )
    assert (
        datetime.timedelta(hours=2)
        <= urgent.first_response_due_at - before
        < datetime.timedelta(hours=2, minutes=1)
    )
    assert (
        datetime.timedelta(hours=24)
        <= urgent.resolution_due_at - before
        < datetime.timedelta(hours=24, minutes=1)
    )
    assert low.first_response_due_at - before >= datetime.timedelta(hours=48)
    assert low.resolution_due_at - before >= datetime.timedelta(days=14)


def test_bad_ticket_input_is_refused(tenant_a, handed_over):
    project = handed_over()
    with tenant_context(tenant_a):
        with pytest.raises(ValidationError) as error:
            tickets.ticket_create(
                tenant=tenant_a, project=project, category="roof", description="", priority="x"
            )
        assert set(error.value.message_dict) == {"category", "description", "priority"}
        assert ServiceTicket.objects.count() == 0


def test_workflow_with_history_and_invalid_transition(tenant_a, handed_over, service_a, manager_a):
    project = handed_over()
    with tenant_context(tenant_a):
        ticket = tickets.ticket_create(
            tenant=tenant_a, project=project, category="walls", description="墙面开裂"
        )
        with pytest.raises(ValidationError):
            tickets.ticket_transition(
                tenant=tenant_a, ticket=ticket, to_status=TicketStatus.RESOLVED, actor=manager_a
            )
        with pytest.raises(ValidationError):  # assigning needs someone
            tickets.ticket_transition(
                tenant=tenant_a, ticket=ticket, to_status=TicketStatus.ASSIGNED, actor=manager_a
            )
        ticket = tickets.ticket_transition(
            tenant=tenant_a,
            ticket=ticket,
            to_status=TicketStatus.ASSIGNED,
            actor=manager_a,
            assigned_to=service_a,
        )
        assert ticket.first_responded_at is not None and ticket.assigned_to == service_a
        for status in (
            TicketStatus.IN_PROGRESS,
            TicketStatus.RESOLVED,
            TicketStatus.REOPENED,
            TicketStatus.RESOLVED,
            TicketStatus.CLOSED,
        ):
            ticket = tickets.ticket_transition(
                tenant=tenant_a, ticket=ticket, to_status=status, actor=service_a
            )
        assert ticket.status == TicketStatus.CLOSED and ticket.closed_at is not None
        history = list(TicketEvent.objects.filter(ticket=ticket).values_list("from_status", "to_status"))
        assert history == [
            ("", "open"),
            ("open", "assigned"),
            ("assigned", "in_progress"),
            ("in_progress", "resolved"),
            ("resolved", "reopened"),
            ("reopened", "resolved"),
            ("resolved", "closed"),
        ]
        # each resolution sends one CSAT survey
        assert Survey.objects.filter(ticket=ticket, kind="csat").count() == 2


def test_sla_breach_alerts_exactly_once(tenant_a, handed_over, make_staff, service_a):
    manager = make_staff(tenant_a, Role.MANAGER)
    project = handed_over()
    with tenant_context(tenant_a):
        ticket = tickets.ticket_create(
            tenant=tenant_a, project=project, category="plumbing", description="漏水", priority="urgent"
        )
        on_time = tickets.ticket_create(
            tenant=tenant_a, project=project, category="tiles", description="空鼓", priority="low"
        )
        later = timezone.now() + datetime.timedelta(hours=3)
        assert tickets.ticket_sla_alerts_send(tenant=tenant_a, now=later) == 1
        assert tickets.ticket_sla_alerts_send(tenant=tenant_a, now=later) == 0
        tickets.ticket_transition(
            tenant=tenant_a,
            ticket=ticket,
            to_status=TicketStatus.ASSIGNED,
            actor=manager,
            assigned_to=service_a,
        )
        much_later = timezone.now() + datetime.timedelta(hours=25)
        assert tickets.ticket_sla_alerts_send(tenant=tenant_a, now=much_later) == 1  # resolution breach
        assert tickets.ticket_sla_alerts_send(tenant=tenant_a, now=much_later) == 0
        assert set(TicketSlaAlert.objects.values_list("ticket_id", "kind")) == {
            (ticket.pk, "first_response"),
            (ticket.pk, "resolution"),
        }
        assert not TicketSlaAlert.objects.filter(ticket=on_time).exists()
        notes = Notification.objects.filter(kind="aftercare_ticket_sla")
        assert notes.filter(recipient=manager).count() == 2
        assert notes.filter(recipient=service_a).count() == 1  # assignee hears about the resolution breach
