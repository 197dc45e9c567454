"""Covering, tenant-led indexes for the dashboard panels (as 0004/0007, kept with the reads they serve).

- The funnel's cohort index carries every column the funnel reads (``INCLUDE``): its two statements
  become index-only range scans instead of a scan of every tenant's milestone rows.
- Sales and referrals panels: human follow-ups per author in a period (``author, occurred_at`` +
  ``kind``); signed contracts of a period (not cancelled) with the customer and the amount; and
  per customer, to ask of each contract whether the customer signed an earlier one.
- The customer attributes the panels group or filter by (owner, channel, designer) next to the
  customer id, so joining a contract or a follow-up to its customer reads this narrow index, not
  the wide customer rows.

- Delivery workbench: each role column's live projects by stage and time in stage, so "my projects,
  overdue first" walks a few index ranges and stops after 8 rows (``analytics.workbench.overdue_first``)
  instead of sorting every live project of a project manager.

``INCLUDE`` is PostgreSQL's; SQLite (the demo) gets the same keys without it.
"""

from django.db import migrations, models

from crm.migration_ops import VendorRunSQL

INDEXES = [
    (
        "analytics_fu_author_occurred_idx",
        "customers_followup (tenant_id, author_id, occurred_at)",
        "(kind)",
        "",
    ),
    (
        "analytics_proj_signed_live_idx",
        "projects_project (tenant_id, signed_on)",
        "(customer_id, contract_amount_fen, id)",
        "signed_on IS NOT NULL AND cancelled_at IS NULL",
    ),
    # Referrals panel: "signed an earlier contract" asked of each contract of the period.
    (
        "analytics_proj_customer_signed_idx",
        "projects_project (tenant_id, customer_id, signed_on)",
        "",
        "signed_on IS NOT NULL AND cancelled_at IS NULL",
    ),
    (
        "analytics_cust_attrs_idx",
        "customers_customer (tenant_id, id)",
        "(owner_id, source_channel, designer_id)",
        "",
    ),
    *(
        (
            f"analytics_proj_{role}_live_idx",
            f"projects_project (tenant_id, {role}_id, stage, stage_entered_at, id)",
            "",
            "cancelled_at IS NULL AND handed_over_on IS NULL",
        )
        for role in ("designer", "project_manager", "supervisor")
    ),
]


def _create(name: str, target: str, include: str, where: str, *, covering: bool) -> str:
    sql = f"CREATE INDEX IF NOT EXISTS {name} ON {target}"
    if covering and include:
        sql += f" INCLUDE {include}"
    return sql + (f" WHERE {where}" if where else "")


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0008_customer_milestones"),
        ("customers", "0017_customer_search_function"),
        ("projects", "0007_admin_labels"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="customermilestone", name="analytics_ms_inquiry_idx"),
        migrations.AddIndex(
            model_name="customermilestone",
            index=models.Index(
                fields=["tenant", "inquiry_at"],
                include=[
                    "furthest_step",
                    "source_channel",
                    "contract_total_fen",
                    "owner",
                    "designer",
                    "responded_at",
                    "measured_at",
                    "design_at",
                    "quoted_at",
                    "signed_at",
                    "handed_over_at",
                ],
                name="analytics_ms_cohort_idx",
            ),
        ),
        *(
            VendorRunSQL(
                {
                    "postgresql": [_create(name, target, include, where, covering=True)],
                    "sqlite": [_create(name, target, include, where, covering=False)],
                },
                {"postgresql": [f"DROP INDEX IF EXISTS {name}"], "sqlite": [f"DROP INDEX IF EXISTS {name}"]},
            )
            for name, target, include, where in INDEXES
        ),
    ]
