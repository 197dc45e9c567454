"""Appointments (issue 14 §4): bad input refused with nothing written, overlap under concurrency,
reschedule history, no-show, and reminders sent exactly once by the real scan."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from crm.models import Role
from crm.notifications.models import Notification
from crm.tenancy import tenant_context
from sales import services
from sales.models import Appointment, AppointmentChange, AppointmentStatus
from tests.customers.factories import CustomerFactory
from tests.sales.factories import in_hours, make_appointment


@pytest.fixture
def rep(tenant_a, make_staff):
    return make_staff(tenant_a, Role.SALES)


def _book(tenant, rep, customer, starts_at, hours=1.0, **extra):
    return services.appointment_create(
        tenant=tenant,
        actor=rep,
        customer=customer,
        kind="measure",
        place="幸福小区 3-201",
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=hours),
        staff=extra.pop("staff", rep),
        **extra,
    )


def _code(error: ValidationError, field: str) -> str:
    return error.error_dict[field][0].code


def test_overlap_for_one_staff_member_is_refused(tenant_a, rep, make_staff):
    designer = make_staff(tenant_a, Role.DESIGNER)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep)
        _book(tenant_a, rep, customer, in_hours(24), hours=2)
        with pytest.raises(ValidationError) as refused:
            _book(tenant_a, rep, customer, in_hours(25))
        assert _code(refused.value, "starts_at") == "overlap"
        # a participant is booked as well: the designer can't be in two places either
        _book(tenant_a, rep, customer, in_hours(48), participants=[designer])
        with pytest.raises(ValidationError):
            _book(tenant_a, designer, customer, in_hours(48.5), staff=designer)
        # back to back is fine
        _book(tenant_a, rep, customer, in_hours(26))
        assert Appointment.objects.count() == 3


def test_past_and_reversed_times_are_refused(tenant_a, rep):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep)
        with pytest.raises(ValidationError) as past:
            _book(tenant_a, rep, customer, in_hours(-1))
        assert _code(past.value, "starts_at") == "in_past"
        with pytest.raises(ValidationError) as reversed_:
            _book(tenant_a, rep, customer, in_hours(5), hours=-1)
        assert _code(reversed_.value, "ends_at") == "ends_before_start"
        assert Appointment.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_of_one_person_make_exactly_one(tenant_a, make_staff):
    rep = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        customers = [CustomerFactory(tenant=tenant_a, owner=rep) for _ in range(4)]
    starts_at = in_hours(30)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def book(customer) -> None:
        try:
            with tenant_context(tenant_a):
                barrier.wait()
                try:
                    _book(
                        tenant_a,
                        rep,
                        customer,
                        starts_at + datetime.timedelta(minutes=10 * customers.index(customer)),
                    )
                    outcomes.append("booked")
                except ValidationError as error:
                    outcomes.append(_code(error, "starts_at"))
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(customer,)) for customer in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked", "overlap", "overlap", "overlap"]
    with tenant_context(tenant_a):
        assert Appointment.objects.filter(staff=rep).count() == 1


def test_reschedule_is_recorded_and_rearms_the_reminder(tenant_a, rep):
    with tenant_context(tenant_a):
        appointment = make_appointment(tenant_a, staff=rep, starts_at=in_hours(0.5))
        original, new_start = appointment.starts_at, in_hours(48)
        assert services.appointment_reminders_send_due(tenant=tenant_a) == 1
        moved = services.appointment_reschedule(
            tenant=tenant_a,
            actor=rep,
            appointment=appointment,
            starts_at=new_start,
            ends_at=new_start + datetime.timedelta(hours=1),
            reason="客户出差",
        )
        change = AppointmentChange.objects.get(appointment=appointment)
        assert (change.changed_by, change.from_starts_at, change.to_starts_at) == (
            rep,
            original,
            new_start,
        )
        # the reminder keeps its lead time (1 hour) and may be sent again for the new time
        assert moved.reminded_at is None and moved.remind_at == new_start - datetime.timedelta(hours=1)
        # into the past: refused, nothing changed
        with pytest.raises(ValidationError):
            services.appointment_reschedule(
                tenant=tenant_a, actor=rep, appointment=moved, starts_at=in_hours(-2), ends_at=in_hours(-1)
            )
        assert AppointmentChange.objects.count() == 1


def test_reminder_is_sent_exactly_once_by_the_scan(tenant_a, rep, make_staff):
    designer = make_staff(tenant_a, Role.DESIGNER)
    with tenant_context(tenant_a):
        due = make_appointment(tenant_a, staff=rep, starts_at=in_hours(0.5))
        due.participants.add(designer, through_defaults={"tenant": tenant_a})
        make_appointment(tenant_a, staff=rep, starts_at=in_hours(5))  # reminder not yet due
        assert services.appointment_reminders_send_due(tenant=tenant_a) == 1
        assert services.appointment_reminders_send_due(tenant=tenant_a) == 0
        notes = Notification.objects.filter(kind="appointment_reminder")
        assert sorted(notes.values_list("recipient_id", flat=True)) == sorted([rep.pk, designer.pk])
        due.refresh_from_db()
        assert due.reminded_at is not None


def test_no_show_is_recorded_and_frees_the_slot(tenant_a, rep):
    with tenant_context(tenant_a):
        appointment = make_appointment(tenant_a, staff=rep, starts_at=in_hours(24))
        with pytest.raises(ValidationError) as early:
            services.appointment_mark_no_show(tenant=tenant_a, actor=rep, appointment=appointment)
        assert _code(early.value, "status") == "not_started"
        Appointment.objects.filter(pk=appointment.pk).update(starts_at=in_hours(-2), ends_at=in_hours(-1))
        missed = services.appointment_mark_no_show(
            tenant=tenant_a, actor=rep, appointment=appointment, outcome="未接电话"
        )
        assert missed.status == AppointmentStatus.NO_SHOW and missed.closed_at is not None
        with pytest.raises(ValidationError) as closed:
            services.appointment_complete(tenant=tenant_a, actor=rep, appointment=missed)
        assert _code(closed.value, "status") == "closed"
