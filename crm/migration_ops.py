"""Migration operations every app shares: vendor-specific SQL and database-enforced append-only tables.

Why by hand: Django has no operation for triggers, and django-pgtrigger would bring a second
migration system for three triggers. The zero-setup demo runs on SQLite, so each operation carries
an SQLite twin; on any other vendor it does nothing.

Money columns moving from yuan to fen: every tenant's rows are rewritten, so on PostgreSQL the
platform scope opens the row-level-security wall for the migration's transaction only. That
conversion is the one place outside ``crm.money`` that scales by 100: it is the data migration itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import migrations

from crm.money import FEN_PER_YUAN


def _scale(columns: dict[str, list[str]], *, to_fen: bool):
    def apply(apps, schema_editor) -> None:  # noqa: ARG001 - RunPython signature
        connection = schema_editor.connection
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT set_config('app.platform_scope', 'on', true)")
            for table, names in columns.items():
                # yuan → fen is exact; fen → yuan (reverse) keeps whole yuan, as the old columns did
                assignments = ", ".join(
                    f"{quote(name)} = {quote(name)} * {FEN_PER_YUAN}"
                    if to_fen
                    else f"{quote(name)} = CAST({quote(name)} / {FEN_PER_YUAN} AS BIGINT)"
                    for name in names
                )
                cursor.execute(f"UPDATE {quote(table)} SET {assignments}")  # noqa: S608 - names are ours

    return apply


def yuan_columns_to_fen(columns: dict[str, list[str]]) -> migrations.RunPython:
    """A reversible data migration: ``{table: [column, ...]}`` values × 100 (reverse: ÷ 100, whole yuan)."""
    return migrations.RunPython(_scale(columns, to_fen=True), _scale(columns, to_fen=False))


class VendorRunSQL(migrations.RunSQL):
    """``RunSQL`` that runs the statements written for the connection's vendor (and none for others)."""

    def __init__(
        self, by_vendor: dict[str, Sequence[str]], reverse_by_vendor: dict[str, Sequence[str]]
    ) -> None:
        self.by_vendor = by_vendor
        self.reverse_by_vendor = reverse_by_vendor
        super().__init__(sql=list(by_vendor["postgresql"]), reverse_sql=list(reverse_by_vendor["postgresql"]))

    def database_forwards(self, app_label, schema_editor, from_state, to_state):  # noqa: ARG002
        sql = self.by_vendor.get(schema_editor.connection.vendor)
        for statement in sql or ():
            schema_editor.execute(statement, params=None)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):  # noqa: ARG002
        sql = self.reverse_by_vendor.get(schema_editor.connection.vendor)
        for statement in sql or ():
            schema_editor.execute(statement, params=None)


def append_only(table: str, *, refuse: Sequence[str] = ("UPDATE", "DELETE"), hint: str = "") -> VendorRunSQL:
    """Refuse ``refuse`` (UPDATE and/or DELETE) on every row of ``table`` in the database itself.

    History tables (money ledgers, consent) must not be rewritten by a stray ``.update()``, an admin
    action or raw SQL; corrections are new rows. ``hint`` ends the PostgreSQL error message.
    Trigger and function names are ``<table>_no_<ops>`` / ``<table>_append_only`` (stable: earlier
    migrations created them under these names).
    """
    ops = [op.upper() for op in refuse]
    if not ops or any(op not in ("UPDATE", "DELETE") for op in ops):
        raise ValueError("refuse must name UPDATE and/or DELETE")
    trigger = f"{table}_no_{'_'.join(op.lower() for op in ops)}"
    detail = f" ({hint})" if hint else ""
    message = (
        f"{table} is append-only: % refused{detail}"
        if len(ops) > 1
        else f"{table} is append-only: {ops[0]} refused{detail}"
    )
    raise_args = f"'{message}', TG_OP" if len(ops) > 1 else f"'{message}'"
    pg_forward = [
        f"""CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION {raise_args}
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$""",
        f"DROP TRIGGER IF EXISTS {trigger} ON {table}",
        f"""CREATE TRIGGER {trigger}
    BEFORE {" OR ".join(ops)} ON {table}
    FOR EACH ROW EXECUTE FUNCTION {table}_append_only()""",
    ]
    pg_reverse = [
        f"DROP TRIGGER IF EXISTS {trigger} ON {table}",
        f"DROP FUNCTION IF EXISTS {table}_append_only()",
    ]
    sqlite_forward = [
        f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table}
    BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END;"""
        for op in ops
    ]
    sqlite_reverse = [f"DROP TRIGGER IF EXISTS {table}_no_{op.lower()};" for op in ops]
    return VendorRunSQL(
        by_vendor={"postgresql": pg_forward, "sqlite": sqlite_forward},
        reverse_by_vendor={"postgresql": pg_reverse, "sqlite": sqlite_reverse},
    )
