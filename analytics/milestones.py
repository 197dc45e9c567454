"""Per-customer funnel milestones: a read model the database keeps equal to its sources.

``CustomerMilestone`` holds, for every customer, the funnel panel's inputs: the cohort columns
(inquiry time, channel, owner, designer, contract total), the furthest funnel step reached now
(the same conditions as ``customers.selectors.funnel_reached_q``) and the first time at each step.

One definition, :func:`milestone_select`, derives a customer's row from the source tables. It is
used three ways, so the table cannot drift from it:

- **triggers** on every source table (customers, follow-ups, projects, stage history) re-derive the
  rows of the customers a statement touched — whatever wrote it (services, ``.update()``, admin,
  raw SQL, bulk loads). On PostgreSQL they are statement-level (transition tables), so a bulk
  ``INSERT … SELECT`` re-derives its customers in one set-based pass; on SQLite (the demo) row-level;
- the **migration** backfills the table with it;
- ``manage.py rebuild_milestones`` rebuilds (or ``--check``s) a tenant's rows with it.

Concurrency (PostgreSQL): the refresh locks the customers' milestone rows first, then derives
them in later statements — each takes a fresh snapshot under READ COMMITTED, so a transaction that
waited for another one's lock sees that one's committed writes and never overwrites them with an
older view.
"""

from __future__ import annotations

import re

from django.db import connection as default_connection

from customers.models.leads import HUMAN_FOLLOW_UP_KINDS
from customers.selectors import FUNNEL_STEPS
from projects.models.stages import STAGE_ORDER, Stage

TABLE = "analytics_customermilestone"
REFRESH_FUNCTION = "analytics_milestones_refresh"

# Funnel steps in order; the stored ``furthest_step`` is an index into this tuple.
STEPS = ("inquiry", *FUNNEL_STEPS)
# Steps reached through a project entering a stage: their time is the first stage-history entry.
STEP_STAGE = {
    "design": Stage.DESIGN,
    "quoted": Stage.QUOTATION,
    "signed": Stage.CONTRACT_SIGNED,
    "handed_over": Stage.HANDOVER,
}
COLUMNS = (
    "tenant_id",
    "customer_id",
    "inquiry_at",
    "source_channel",
    "owner_id",
    "designer_id",
    "contract_total_fen",
    "furthest_step",
    "responded_at",
    "measured_at",
    "design_at",
    "quoted_at",
    "signed_at",
    "handed_over_at",
)
# Customer columns the row copies or depends on: an UPDATE touching none of them changes nothing.
CUSTOMER_COLUMNS = (
    "created_at",
    "source_channel",
    "owner_id",
    "designer_id",
    "contract_total_fen",
    "last_touch_at",
    "measured_at",
    "tenant_id",
)
PROJECT_COLUMNS = ("customer_id", "stage", "signed_on", "handed_over_on", "tenant_id")
FOLLOW_UP_COLUMNS = ("customer_id", "kind", "occurred_at", "tenant_id")
STAGE_HISTORY_COLUMNS = ("project_id", "to_stage", "changed_at", "tenant_id")


def _quoted_list(values) -> str:
    return ", ".join(f"'{value}'" for value in values)


HUMAN_KINDS_SQL = _quoted_list(sorted(HUMAN_FOLLOW_UP_KINDS))
MILESTONE_STAGES_SQL = _quoted_list(STEP_STAGE.values())


def _project_exists(condition: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM projects_project p "
        f"WHERE p.tenant_id = c.tenant_id AND p.customer_id = c.id AND {condition})"
    )


def _stages_from(stage: str) -> str:
    return _quoted_list(STAGE_ORDER[STAGE_ORDER.index(stage) :])


def _first_stage_entry(stage: str) -> str:
    return (
        "(SELECT MIN(h.changed_at) FROM projects_stagehistory h "
        "JOIN projects_project p ON p.id = h.project_id "
        "WHERE p.tenant_id = c.tenant_id AND p.customer_id = c.id "
        f"AND h.tenant_id = c.tenant_id AND h.to_stage = '{stage}')"
    )


def milestone_select(where: str) -> str:
    """``SELECT`` of the milestone rows (in :data:`COLUMNS` order) of the customers ``c`` matching
    ``where`` — the one definition (portable SQL: PostgreSQL and SQLite)."""
    # furthest step: the last step whose own condition holds (funnel_reached_q ORs the later ones)
    furthest = f"""CASE
            WHEN {_project_exists("p.handed_over_on IS NOT NULL")} THEN 6
            WHEN {_project_exists("p.signed_on IS NOT NULL")} THEN 5
            WHEN {_project_exists(f"p.stage IN ({_stages_from(Stage.QUOTATION)})")} THEN 4
            WHEN c.designer_id IS NOT NULL
                OR {_project_exists(f"p.stage IN ({_stages_from(Stage.DESIGN)})")} THEN 3
            WHEN c.measured_at IS NOT NULL THEN 2
            WHEN c.last_touch_at IS NOT NULL THEN 1
            ELSE 0
        END"""
    responded = (
        "(SELECT MIN(f.occurred_at) FROM customers_followup f "
        "WHERE f.tenant_id = c.tenant_id AND f.customer_id = c.id "
        f"AND f.kind IN ({HUMAN_KINDS_SQL}))"
    )
    return f"""SELECT c.tenant_id, c.id, c.created_at, c.source_channel, c.owner_id, c.designer_id,
        c.contract_total_fen, {furthest}, {responded}, c.measured_at,
        {", ".join(_first_stage_entry(stage) for stage in STEP_STAGE.values())}
    FROM customers_customer c
    WHERE {where}"""


# --- PostgreSQL -------------------------------------------------------------------------------

_COLUMN_LIST = ", ".join(COLUMNS)
_UPSERT_ASSIGNMENTS = ", ".join(f"{name} = EXCLUDED.{name}" for name in COLUMNS[2:])

PG_REFRESH = f"""CREATE OR REPLACE FUNCTION {REFRESH_FUNCTION}(tenant bigint, ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Each statement is EXECUTEd: planned for this call's number of ids (a cached generic plan
    -- would be made for whatever size came first).
    -- lock the rows (in one order: no deadlock between two refreshes) ...
    EXECUTE $sql$ SELECT 1 FROM {TABLE} WHERE tenant_id = $1 AND customer_id = ANY($2)
        ORDER BY customer_id FOR UPDATE $sql$ USING tenant, ids;
    -- ... then derive them with a snapshot taken after the lock; a customer that is gone loses its row.
    EXECUTE $sql$ INSERT INTO {TABLE} ({_COLUMN_LIST})
    {milestone_select("c.tenant_id = $1 AND c.id = ANY($2)")}
    ON CONFLICT (tenant_id, customer_id) DO UPDATE SET {_UPSERT_ASSIGNMENTS} $sql$ USING tenant, ids;
    EXECUTE $sql$ DELETE FROM {TABLE} m
    WHERE m.tenant_id = $1 AND m.customer_id = ANY($2)
      AND NOT EXISTS (SELECT 1 FROM customers_customer c WHERE c.id = m.customer_id) $sql$ USING tenant, ids;
END;
$$"""


def _changed(columns: tuple[str, ...]) -> str:
    return (
        f"({', '.join(f'n.{c}' for c in columns)}) IS DISTINCT FROM ({', '.join(f'o.{c}' for c in columns)})"
    )


# (source table, function suffix, customer id of a row r, row filter on r, columns that matter)
_SOURCES = (
    ("customers_customer", "customer", "r.id", "TRUE", CUSTOMER_COLUMNS),
    ("customers_followup", "followup", "r.customer_id", f"r.kind IN ({HUMAN_KINDS_SQL})", FOLLOW_UP_COLUMNS),
    ("projects_project", "project", "r.customer_id", "TRUE", PROJECT_COLUMNS),
    (
        "projects_stagehistory",
        "stagehistory",
        "(SELECT p.customer_id FROM projects_project p WHERE p.id = r.project_id)",
        f"r.to_stage IN ({MILESTONE_STAGES_SQL})",
        STAGE_HISTORY_COLUMNS,
    ),
)


def _pg_source_sql(
    table: str, suffix: str, customer: str, condition: str, columns: tuple[str, ...]
) -> list[str]:
    function = f"analytics_milestones_{suffix}"

    def ids(rows: str, extra: str = "") -> str:
        return f"SELECT r.tenant_id, {customer} AS customer_id FROM {rows} r WHERE {condition}{extra}"

    def refresh(touched: str) -> str:
        # one call per tenant (a platform-scope statement may touch several): every lookup is
        # then on a tenant-led key
        # EXECUTE: planned at each firing with the transition tables' real sizes. A cached plan
        # made for a one-row statement joins a 3,000-row bulk UPDATE's old and new rows in a nested
        # loop per row (minutes instead of milliseconds).
        return (
            f"EXECUTE $sql$ SELECT {REFRESH_FUNCTION}(t.tenant_id, t.ids) FROM (SELECT tenant_id, "
            f"array_agg(DISTINCT customer_id) AS ids FROM ({touched}) touched GROUP BY tenant_id) t $sql$"
        )

    changed = (
        f" AND r.id IN (SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {_changed(columns)})"
    )
    body = f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {refresh(ids("new_rows"))};
    ELSIF TG_OP = 'DELETE' THEN
        {refresh(ids("old_rows"))};
    ELSE
        {refresh(f"{ids('new_rows', changed)} UNION {ids('old_rows', changed)}")};
    END IF;
    RETURN NULL;
END;
$$"""
    statements = [body]
    for op, referencing in (
        ("insert", "NEW TABLE AS new_rows"),
        ("update", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("delete", "OLD TABLE AS old_rows"),
    ):
        trigger = f"{function}_{op}"
        statements += [
            f"DROP TRIGGER IF EXISTS {trigger} ON {table}",
            f"CREATE TRIGGER {trigger} AFTER {op.upper()} ON {table} REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        ]
    return statements


def pg_install_sql() -> list[str]:
    statements = [PG_REFRESH]
    for source in _SOURCES:
        statements += _pg_source_sql(*source)
    return statements


def pg_uninstall_sql() -> list[str]:
    statements = []
    for table, suffix, *_rest in _SOURCES:
        for op in ("insert", "update", "delete"):
            statements.append(f"DROP TRIGGER IF EXISTS analytics_milestones_{suffix}_{op} ON {table}")
        statements.append(f"DROP FUNCTION IF EXISTS analytics_milestones_{suffix}()")
    statements.append(f"DROP FUNCTION IF EXISTS {REFRESH_FUNCTION}(bigint, bigint[])")
    return statements


# --- SQLite (the zero-setup demo): row-level triggers, the same SELECT inlined ------------------


def _row(expression: str, row: str) -> str:
    """``expression`` over the trigger's ``OLD``/``NEW`` row instead of the transition row ``r``."""
    return re.sub(r"\br\.", f"{row}.", expression)


def _sqlite_refresh(tenant: str, customer: str) -> str:
    return (
        f"DELETE FROM {TABLE} WHERE tenant_id = {tenant} AND customer_id = {customer}; "
        f"INSERT INTO {TABLE} ({_COLUMN_LIST}) "
        f"{milestone_select(f'c.tenant_id = {tenant} AND c.id = {customer}')};"
    )


def sqlite_install_sql() -> list[str]:
    statements = []
    for table, suffix, customer, condition, columns in _SOURCES:
        for op, rows in (("insert", ("NEW",)), ("update", ("OLD", "NEW")), ("delete", ("OLD",))):
            when = " OR ".join(f"({_row(condition, row)})" for row in rows)
            if op == "update":
                touched = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
                when = f"({when}) AND ({touched})"
            body = " ".join(_sqlite_refresh(f"{row}.tenant_id", _row(customer, row)) for row in rows)
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS analytics_milestones_{suffix}_{op} "
                f"AFTER {op.upper()} ON {table} WHEN {when} BEGIN {body} END"
            )
    return statements


def sqlite_uninstall_sql() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS analytics_milestones_{suffix}_{op}"
        for _table, suffix, *_rest in _SOURCES
        for op in ("insert", "update", "delete")
    ]


# --- rebuild and check --------------------------------------------------------------------------


def rebuild(*, tenant_id: int, connection=default_connection) -> int:
    """Re-derive every milestone row of one tenant from the sources; returns its customers.

    On PostgreSQL through the triggers' own refresh (same row locks, so it can run beside live
    writes), then rows whose customer is gone are dropped."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT {REFRESH_FUNCTION}(%s, "
                "ARRAY(SELECT id FROM customers_customer WHERE tenant_id = %s))",
                [tenant_id, tenant_id],
            )
            cursor.execute(
                f"DELETE FROM {TABLE} m WHERE m.tenant_id = %s "  # noqa: S608 - our names
                "AND NOT EXISTS (SELECT 1 FROM customers_customer c WHERE c.id = m.customer_id)",
                [tenant_id],
            )
        else:
            cursor.execute(f"DELETE FROM {TABLE} WHERE tenant_id = %s", [tenant_id])  # noqa: S608
            cursor.execute(
                f"INSERT INTO {TABLE} ({_COLUMN_LIST}) {milestone_select('c.tenant_id = %s')}",  # noqa: S608
                [tenant_id],
            )
        cursor.execute(f"SELECT COUNT(*) FROM {TABLE} WHERE tenant_id = %s", [tenant_id])  # noqa: S608
        return cursor.fetchone()[0]


def backfill(*, connection=default_connection) -> None:
    """Derive the rows of every tenant (the migration's backfill: one set-based statement)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")  # noqa: S608 - our names
        cursor.execute(f"INSERT INTO {TABLE} ({_COLUMN_LIST}) {milestone_select('TRUE')}")  # noqa: S608


def drift(*, tenant_id: int, connection=default_connection) -> list[tuple]:
    """Rows where the table and the definition differ (each side's row; empty = in step)."""
    derived = milestone_select("c.tenant_id = %s")
    stored = f"SELECT {_COLUMN_LIST} FROM {TABLE} WHERE tenant_id = %s"  # noqa: S608 - our names
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 'stored', * FROM ({stored} EXCEPT {derived}) a "
            f"UNION ALL SELECT 'derived', * FROM ({derived} EXCEPT {stored}) b",
            [tenant_id, tenant_id, tenant_id, tenant_id],
        )
        return cursor.fetchall()
