"""Migration operations shared by the apps: money columns moving from yuan to fen.

Every tenant's rows are rewritten, so on PostgreSQL the platform scope opens the row-level-security
wall for the migration's transaction only; SQLite (the zero-setup demo) has no RLS and no
``set_config``. The conversion is the one place outside ``crm.money`` that scales by 100: it is
the data migration itself.
"""

from __future__ import annotations

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
    """RunSQL that picks the statements for the database vendor it runs on (none: nothing to do)."""

    def __init__(self, by_vendor: dict, reverse_by_vendor: dict) -> None:
        self.by_vendor = by_vendor
        self.reverse_by_vendor = reverse_by_vendor
        super().__init__(sql=by_vendor["postgresql"], reverse_sql=reverse_by_vendor["postgresql"])

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        sql = self.by_vendor.get(schema_editor.connection.vendor)
        if sql:
            self._run_sql(schema_editor, sql)  # type: ignore[attr-defined]

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        sql = self.reverse_by_vendor.get(schema_editor.connection.vendor)
        if sql:
            self._run_sql(schema_editor, sql)  # type: ignore[attr-defined]
