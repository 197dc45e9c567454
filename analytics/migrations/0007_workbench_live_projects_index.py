"""Workbench indexes, kept with the reads they serve (as in 0004).

- Overdue stages (manager workbench; the projects panel's overdue count): live projects — not
  cancelled, not handed over — by stage and entry time, so each stage's "entered before its
  deadline" range is read from the index alone (the 0004 index is partial on ``cancelled_at``
  only, so every candidate row was fetched to check ``handed_over_on``).
- 0004's follow-ups-due index goes: the sales workbench now reads the open follow-ups through
  ``customers``' ``fu_open_due_idx`` (customers 0014), and nothing else reads this one.
"""

from django.db import migrations

LIVE = "analytics_proj_live_overdue_idx"


def create_index_sql(name: str, target: str, where: str) -> str:
    return f"CREATE INDEX IF NOT EXISTS {name} ON {target} WHERE {where}"


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0006_admin_labels"),
        ("customers", "0015_follow_up_superseded_marker"),
        ("projects", "0003_change_order_immutable"),
    ]

    operations = [
        migrations.RunSQL(
            create_index_sql(
                LIVE,
                "projects_project (tenant_id, stage, stage_entered_at)",
                "cancelled_at IS NULL AND handed_over_on IS NULL",
            ),
            f"DROP INDEX IF EXISTS {LIVE}",
        ),
        migrations.RunSQL(
            "DROP INDEX IF EXISTS analytics_fu_author_next_idx",
            create_index_sql(
                "analytics_fu_author_next_idx",
                "customers_followup (tenant_id, author_id, next_follow_up_at)",
                "next_follow_up_at IS NOT NULL",
            ),
        ),
    ]
