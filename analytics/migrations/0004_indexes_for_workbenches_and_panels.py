"""Indexes that serve the analytics reads (workbenches and panels) on the domain apps' tables.

Kept here, with the reads they serve, rather than in each app's models: tenant-led, partial on the
rows those reads can match, plain SQL valid on PostgreSQL and SQLite alike.
"""

from django.db import migrations

INDEXES = [
    # Sales workbench: my follow-ups due (author, next date).
    (
        "analytics_fu_author_next_idx",
        "customers_followup (tenant_id, author_id, next_follow_up_at)",
        "next_follow_up_at IS NOT NULL",
    ),
    # Sales workbench (measured this week) and the sales panel (measured in the period, by owner).
    (
        "analytics_cust_owner_measured_idx",
        "customers_customer (tenant_id, owner_id, measured_at)",
        "measured_at IS NOT NULL",
    ),
    # Signed contracts by day: sales panel, referrals panel, sales and manager workbenches.
    ("analytics_proj_signed_idx", "projects_project (tenant_id, signed_on)", "signed_on IS NOT NULL"),
    # Overdue stages (manager workbench, projects panel): live projects by stage and entry time.
    (
        "analytics_proj_live_stage_idx",
        "projects_project (tenant_id, stage, stage_entered_at)",
        "cancelled_at IS NULL",
    ),
    # Surveys awaiting an answer (service workbench).
    ("analytics_survey_waiting_idx", "aftercare_survey (tenant_id, expires_at)", "answered_at IS NULL"),
    # Funnel step times: first entry into a stage per project.
    (
        "analytics_stagehist_stage_idx",
        "projects_stagehistory (tenant_id, to_stage, project_id, changed_at)",
        "",
    ),
]


def _create(name: str, target: str, where: str) -> str:
    return f"CREATE INDEX IF NOT EXISTS {name} ON {target}" + (f" WHERE {where}" if where else "")


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0003_money_in_fen"),
        ("customers", "0006_merge_visibility_and_perf_indexes"),
        ("projects", "0003_change_order_immutable"),
        ("aftercare", "0002_handlers_module_subscriber_keys"),
    ]

    operations = [
        migrations.RunSQL(_create(name, target, where), f"DROP INDEX IF EXISTS {name}")
        for name, target, where in INDEXES
    ]
