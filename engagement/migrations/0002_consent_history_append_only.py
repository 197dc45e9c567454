"""Consent history is append-only in the database: UPDATE of a history row raises.

DELETE stays allowed so that erasing a customer (cascade) works; rewriting history does not.
PostgreSQL gets a plpgsql trigger; SQLite (the embedded development default) an equivalent one.
"""

from django.db import migrations

TABLE = "engagement_consentevent"

PG_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{TABLE} is append-only: UPDATE refused (record a new consent change instead)'
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$""",
    f"DROP TRIGGER IF EXISTS {TABLE}_no_update ON {TABLE}",
    f"""CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()""",
]
PG_REVERSE = [f"DROP TRIGGER IF EXISTS {TABLE}_no_update ON {TABLE}", f"DROP FUNCTION IF EXISTS {TABLE}_append_only()"]
SQLITE_FORWARD = [
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: UPDATE refused'); END;"""
]
SQLITE_REVERSE = [f"DROP TRIGGER IF EXISTS {TABLE}_no_update;"]


class VendorRunSQL(migrations.RunSQL):
    def __init__(self, by_vendor: dict, reverse_by_vendor: dict) -> None:
        self.by_vendor = by_vendor
        self.reverse_by_vendor = reverse_by_vendor
        super().__init__(sql=by_vendor["postgresql"], reverse_sql=reverse_by_vendor["postgresql"])

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        sql = self.by_vendor.get(schema_editor.connection.vendor)
        if sql:
            self._run_sql(schema_editor, sql)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        sql = self.reverse_by_vendor.get(schema_editor.connection.vendor)
        if sql:
            self._run_sql(schema_editor, sql)


class Migration(migrations.Migration):
    dependencies = [("engagement", "0001_consent")]

    operations = [
        VendorRunSQL(
            by_vendor={"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD},
            reverse_by_vendor={"postgresql": PG_REVERSE, "sqlite": SQLITE_REVERSE},
        )
    ]
