"""A customer's planned next follow-up becomes its open follow-up task (issue 14 §4: one mechanism).

For every customer with ``next_follow_up_at``, one open ``follow_up`` task for the owner (or, with
no active owner, the author of the follow-up that planned it), due then and reminded then; a plan
whose reminder already went out keeps that mark so nobody is reminded twice. Spans every tenant:
on PostgreSQL the platform scope opens the row-level-security wall for this transaction only.
"""

from django.db import migrations
from django.utils import timezone


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.platform_scope', 'on', true)")
    Customer = apps.get_model("customers", "Customer")
    FollowUp = apps.get_model("customers", "FollowUp")
    Task = apps.get_model("sales", "Task")
    already = set(
        Task.objects.filter(kind="follow_up", done_at__isnull=True).values_list("customer_id", flat=True)
    )
    now = timezone.now()
    planned = (
        Customer.objects.filter(next_follow_up_at__isnull=False)
        .exclude(pk__in=already)
        .select_related("owner")
        .iterator(chunk_size=500)
    )
    batch = []
    for customer in planned:
        source = (
            FollowUp.objects.filter(customer_id=customer.pk, next_follow_up_at=customer.next_follow_up_at)
            .order_by("-occurred_at", "-id")
            .first()
        )
        owner = customer.owner if customer.owner_id and customer.owner.is_active else None
        assignee_id = owner.pk if owner else (source.author_id if source else None)
        if assignee_id is None:
            continue
        batch.append(
            Task(
                tenant_id=customer.tenant_id,
                customer_id=customer.pk,
                kind="follow_up",
                follow_up_id=source.pk if source else None,
                title="下次跟进",
                due_at=customer.next_follow_up_at,
                assignee_id=assignee_id,
                created_at=now,
                remind_at=customer.next_follow_up_at,
                reminded_at=source.reminded_at if source else None,
            )
        )
        if len(batch) >= 500:
            Task.objects.bulk_create(batch)
            batch = []
    Task.objects.bulk_create(batch)


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.platform_scope', 'on', true)")
    apps.get_model("sales", "Task").objects.filter(kind="follow_up").delete()


class Migration(migrations.Migration):
    dependencies = [("sales", "0002_task_follow_ups_and_reminders")]

    operations = [migrations.RunPython(forwards, backwards)]
