"""The per-customer funnel milestones (``analytics.milestones``): kept equal to their sources by the
database triggers whatever writes them, rebuildable and checkable, and the funnel read from them
gives the numbers the source-table queries gave (``funnel_reference``)."""

from __future__ import annotations

import datetime
import random
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from analytics import milestones
from analytics.models import CustomerMilestone
from analytics.scope import parse_scope
from analytics.selectors.funnel import _cohort_groups, _step_counts, _step_medians, funnel_panel
from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer, FollowUp, FollowUpKind, SourceChannel
from customers.services.customers import customer_create, customer_update
from customers.services.follow_ups import follow_up_create
from customers.services.merge import customer_merge
from customers.services.reassign import customers_reassign
from projects.models import Acceptance, AcceptanceKind, Project, Stage
from projects.services.contracts import contract_cancel, contract_sign
from projects.services.projects import project_create
from projects.services.stages import project_advance, project_handover, project_move_stage
from tests.analytics import funnel_reference

FAILURES = (ValidationError, PermissionDenied, IntegrityError, ProtectedError)


def _people(tenant, make_staff) -> dict:
    return {
        "manager": make_staff(tenant, Role.MANAGER),
        "sales": [make_staff(tenant, Role.SALES) for _ in range(3)],
        "designers": [make_staff(tenant, Role.DESIGNER) for _ in range(2)],
    }


def _random_history(tenant, people: dict, rng: random.Random, steps: int) -> None:
    """``steps`` random writes through the services (and a few raw ORM writes, as admin actions and
    data fixes do); refused ones (gates, permissions) are part of the story too."""
    now = timezone.now()
    manager = people["manager"]
    serial = [Customer.objects.count()]

    def customers() -> list[Customer]:
        return list(Customer.objects.order_by("pk"))

    def projects() -> list[Project]:
        return list(Project.objects.order_by("pk"))

    def new_customer() -> None:
        serial[0] += 1
        customer = customer_create(
            tenant=tenant,
            created_by=manager,
            name=f"客户{serial[0]}",
            phone=f"+86137{serial[0]:08d}",
            source_channel=rng.choice(SourceChannel.values[:4]),
            owner=rng.choice(people["sales"]),
        )
        # inquiries spread over this month and the last two (the previous period of the scopes)
        created = now - datetime.timedelta(days=rng.uniform(0, 75))
        Customer.objects.filter(pk=customer.pk).update(created_at=created)

    def touch() -> None:
        follow_up_create(
            tenant=tenant,
            customer=rng.choice(customers()),
            author=rng.choice(people["sales"]),
            kind=rng.choice(FollowUpKind.values),
            content="沟通",
            occurred_at=now - datetime.timedelta(hours=rng.uniform(0, 100)),
        )

    def assign_designer() -> None:
        designer = rng.choice([*people["designers"], None])
        customer_update(
            tenant=tenant, customer=rng.choice(customers()), updated_by=manager, designer=designer
        )

    def open_project() -> None:
        project_create(tenant=tenant, created_by=manager, customer=rng.choice(customers()), name="新房装修")

    def advance() -> None:
        for _ in range(rng.randint(1, 4)):
            project_advance(tenant=tenant, project=rng.choice(projects()), advanced_by=manager)

    def move_back() -> None:
        project = rng.choice(projects())
        project_move_stage(
            tenant=tenant, project=project, to_stage=Stage.CONSULTATION, moved_by=manager, reason="返工"
        )

    def sign() -> None:
        project = rng.choice(projects())
        contract_sign(
            tenant=tenant,
            project=project,
            signed_by=manager,
            contract_number=f"HT-{project.pk}",
            signed_on=timezone.localdate(),
            contract_amount_fen=rng.randint(1, 50) * 1_000_000,
            override_reason="测试：经理批准",
        )

    def cancel() -> None:
        contract_cancel(
            tenant=tenant, project=rng.choice(projects()), cancelled_by=manager, reason="客户违约"
        )

    def hand_over() -> None:
        project = rng.choice(projects())
        Project.objects.filter(pk=project.pk, signed_on__isnull=False, cancelled_at__isnull=True).update(
            stage=Stage.COMPLETION_ACCEPTANCE
        )
        Acceptance.objects.create(
            tenant=tenant,
            project=project,
            kind=AcceptanceKind.COMPLETION,
            passed=True,
            accepted_on=now.date(),
        )
        project_handover(
            tenant=tenant, project=project, handed_over_by=manager, handed_over_on=timezone.localdate()
        )

    def merge() -> None:
        survivor, duplicate = rng.sample(customers(), 2)
        customer_merge(tenant=tenant, survivor=survivor, duplicate=duplicate, actor=manager)

    def reassign() -> None:
        ids = [customer.pk for customer in rng.sample(customers(), 3)]
        customers_reassign(
            tenant=tenant, actor=manager, customer_ids=ids, to_users=[rng.choice(people["sales"])]
        )

    def raw_fix() -> None:
        follow_up = FollowUp.objects.order_by("?").first()
        if follow_up is None:
            return
        choice = rng.randrange(3)
        if choice == 0:
            follow_up.delete()
        elif choice == 1:
            FollowUp.objects.filter(pk=follow_up.pk).update(kind=FollowUpKind.NOTE)
        else:
            FollowUp.objects.filter(pk=follow_up.pk).update(customer=rng.choice(customers()))

    def delete_customer() -> None:
        rng.choice(customers()).delete()

    actions = [new_customer] * 5 + [touch] * 6 + [assign_designer, open_project, open_project]
    actions += [advance] * 4 + [
        move_back,
        sign,
        sign,
        cancel,
        hand_over,
        merge,
        reassign,
        raw_fix,
        delete_customer,
    ]
    for _ in range(4):
        new_customer()
    open_project()
    for _ in range(steps):
        action = rng.choice(actions)
        try:
            with transaction.atomic():
                action()
        except FAILURES:
            pass


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_after_random_service_calls_the_table_equals_a_rebuild(tenant_a, tenant_b, make_staff, seed):
    people = _people(tenant_a, make_staff)
    rng = random.Random(seed)
    with tenant_context(tenant_a):
        _random_history(tenant_a, people, rng, steps=80)
        assert milestones.drift(tenant_id=tenant_a.pk) == []
        stored = {row.customer_id: row for row in CustomerMilestone.objects.all()}
        assert set(stored) == set(Customer.objects.values_list("pk", flat=True))
        reached = {row.furthest_step for row in stored.values()}
        assert len(reached) >= 4, reached  # the story reached several steps, not only inquiries
        assert any(row.signed_at for row in stored.values())
    with tenant_context(tenant_b):
        assert not CustomerMilestone.objects.exists()  # RLS and the tenant manager: nothing leaks


def test_funnel_from_milestones_equals_the_source_queries(tenant_a, make_staff):
    people = _people(tenant_a, make_staff)
    rng = random.Random(7)
    today = timezone.localdate()
    with tenant_context(tenant_a):
        _random_history(tenant_a, people, rng, steps=200)
        last_40 = {"range": "custom", "start": str(today - datetime.timedelta(days=40)), "end": str(today)}
        last_60 = {**last_40, "start": str(today - datetime.timedelta(days=60))}
        scopes = [
            {"range": "this_month"},
            last_40,
            {"range": "this_month", "channel": SourceChannel.values[0]},
            {**last_60, "sales": str(people["sales"][0].pk)},
            {**last_60, "designer": str(people["designers"][0].pk)},
        ]
        compared = 0
        for params in scopes:
            scope = parse_scope(params, tenant=tenant_a, user=people["manager"], today=today)
            assert _step_counts(_cohort_groups(scope)) == funnel_reference.step_counts(scope), params
            new, old = _step_medians(scope), funnel_reference.step_medians(scope)
            assert new == pytest.approx(old, abs=1e-9), params
            panel = funnel_panel(scope)
            channels = next(table for table in panel["tables"] if table["key"] == "by_channel")
            assert [
                (row["key"], row["values"]["inquiries"], row["values"]["signed"], row["values"]["value"])
                for row in channels["rows"]
            ] == funnel_reference.by_channel(scope), params
            compared += sum(_step_counts(_cohort_groups(scope)).values())
        assert compared > 50  # the scopes held real cohorts


def test_bulk_and_raw_writes_keep_the_rows(tenant_a, make_staff):
    """Statement-level triggers: one bulk statement re-derives all the customers it touched."""
    people = _people(tenant_a, make_staff)
    with tenant_context(tenant_a):
        created = [
            customer_create(
                tenant=tenant_a, created_by=people["manager"], name=f"批量{i}", phone=f"+86136{i:08d}"
            )
            for i in range(5)
        ]
        when = timezone.now() - datetime.timedelta(hours=2)
        FollowUp.objects.bulk_create(
            FollowUp(tenant=tenant_a, customer=customer, kind="call", content="批量", occurred_at=when)
            for customer in created
        )
        rows = CustomerMilestone.objects.filter(customer__in=created)
        assert [row.responded_at for row in rows] == [when] * 5
        Customer.objects.filter(pk__in=[c.pk for c in created]).update(last_touch_at=when)
        assert set(rows.values_list("furthest_step", flat=True)) == {1}
        FollowUp.objects.filter(customer__in=created).delete()
        assert set(rows.values_list("responded_at", flat=True)) == {None}
        created[0].delete()
        assert not CustomerMilestone.objects.filter(customer_id=created[0].pk).exists()
        assert milestones.drift(tenant_id=tenant_a.pk) == []


def test_rebuild_command_checks_and_repairs(tenant_a, make_staff):
    people = _people(tenant_a, make_staff)
    with tenant_context(tenant_a):
        _random_history(tenant_a, people, random.Random(11), steps=40)
        # a stray write to the derived table (nothing in the app does this)
        CustomerMilestone.objects.update(furthest_step=0, responded_at=None)
        assert milestones.drift(tenant_id=tenant_a.pk)
    with pytest.raises(CommandError, match="differ"):
        call_command("rebuild_milestones", "--check", "--tenant", tenant_a.slug)
    call_command("rebuild_milestones", "--tenant", tenant_a.slug)
    call_command("rebuild_milestones", "--check", "--tenant", tenant_a.slug)
    with tenant_context(tenant_a):
        assert milestones.drift(tenant_id=tenant_a.pk) == []


def test_installed_functions_are_the_code_definition(db):
    """Changing ``analytics.milestones`` needs a migration that re-installs it: this fails until then."""
    expected = {}
    for statement in milestones.pg_install_sql():
        match = re.match(r"CREATE OR REPLACE FUNCTION (\w+)\(.*?\$\$(.*)\$\$", statement, re.S)
        if match:
            expected[match.group(1)] = match.group(2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT proname, prosrc FROM pg_proc WHERE proname = ANY(%s)", [list(expected)])
        installed = dict(cursor.fetchall())
    assert installed == expected
