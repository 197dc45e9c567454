"""``FollowUp.superseded_at``: a follow-up with a later one (by ``occurred_at``) on the same
customer is superseded, so "my follow-ups due" reads a partial index of open plans instead of an
anti-join over every follow-up of the tenant.

The database keeps it: statement-level triggers after every insert, delete, and update that moves
a follow-up to another customer or time (a merge and its undo, the admin) recompute the marker of
the customers those rows touch, in one set-based statement — whatever wrote the rows (services,
bulk loads, tests' factories). Backfilled in one statement. Concurrent writers of the same
customer are serialised by the customer row lock the services take.

Also drops what the reminder left behind when it moved out of this app (issue 14 §4: a planned
next follow-up is the ``sales`` app's follow-up task, reminded by that app's scan): the
never-written ``FollowUpReminder`` dispatch table and the partial index of not-yet-reminded
follow-ups that no query reads (maintained on every insert). ``FollowUp.reminded_at`` stays:
``sales`` 0003 reads it to carry the mark over to the tasks, and that migration's test runs it on
the current schema.
"""

from django.conf import settings
from django.db import migrations, models

FUNCTION = "customers_followup_supersede"

# Recompute ``superseded_at`` for the (tenant, customer) pairs in ``tenants`` / ``customers``:
# set where a later follow-up exists, cleared where none does; rows already right are untouched.
CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tenants bigint[];
    customers bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(c.tenant_id), array_agg(c.customer_id) INTO tenants, customers
        FROM (SELECT DISTINCT tenant_id, customer_id FROM fu_new) c;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(c.tenant_id), array_agg(c.customer_id) INTO tenants, customers
        FROM (SELECT DISTINCT tenant_id, customer_id FROM fu_old) c;
    ELSE
        SELECT array_agg(c.tenant_id), array_agg(c.customer_id) INTO tenants, customers
        FROM (
            SELECT o.tenant_id, o.customer_id FROM fu_old o JOIN fu_new n ON n.id = o.id
            WHERE n.customer_id IS DISTINCT FROM o.customer_id OR n.occurred_at IS DISTINCT FROM o.occurred_at
            UNION
            SELECT n.tenant_id, n.customer_id FROM fu_old o JOIN fu_new n ON n.id = o.id
            WHERE n.customer_id IS DISTINCT FROM o.customer_id OR n.occurred_at IS DISTINCT FROM o.occurred_at
        ) c;
    END IF;
    IF customers IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE customers_followup f
    SET superseded_at = CASE WHEN f.superseded_at IS NULL THEN now() END
    FROM unnest(tenants, customers) AS c(tenant_id, customer_id)
    WHERE f.tenant_id = c.tenant_id AND f.customer_id = c.customer_id
      AND (f.superseded_at IS NULL) = EXISTS (
          SELECT 1 FROM customers_followup later
          WHERE later.tenant_id = f.tenant_id AND later.customer_id = f.customer_id
            AND later.occurred_at > f.occurred_at
      );
    RETURN NULL;
END
$$;
"""

TRIGGERS = {
    "fu_supersede_insert": "AFTER INSERT ON customers_followup REFERENCING NEW TABLE AS fu_new",
    "fu_supersede_update": "AFTER UPDATE ON customers_followup REFERENCING OLD TABLE AS fu_old NEW TABLE AS fu_new",
    "fu_supersede_delete": "AFTER DELETE ON customers_followup REFERENCING OLD TABLE AS fu_old",
}

BACKFILL = """
UPDATE customers_followup f SET superseded_at = now()
WHERE EXISTS (
    SELECT 1 FROM customers_followup later
    WHERE later.tenant_id = f.tenant_id AND later.customer_id = f.customer_id
      AND later.occurred_at > f.occurred_at
)
"""


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.platform_scope', 'on', true)")  # every tenant's rows
        cursor.execute(BACKFILL)
        cursor.execute(CREATE_FUNCTION)
        for name, when in TRIGGERS.items():
            cursor.execute(f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON customers_followup")
        cursor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0005_admin_labels"),
        ("customers", "0014_idle_pool_indexes_poolable_only"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="followup",
            name="superseded_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="被后续跟进取代时间"
            ),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.AddIndex(
            model_name="followup",
            index=models.Index(
                condition=models.Q(("next_follow_up_at__isnull", False), ("superseded_at__isnull", True)),
                fields=["tenant", "author", "next_follow_up_at"],
                name="fu_open_due_idx",
            ),
        ),
        migrations.RemoveIndex(model_name="followup", name="fu_reminder_due_idx"),
        migrations.DeleteModel(name="FollowUpReminder"),
    ]
