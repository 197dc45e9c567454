"""The ledger is append-only in the database itself: UPDATE and DELETE of an entry raise.

Python code never updates entries, but a stray ``.update()``, an admin action, a cascade or raw SQL
would otherwise be able to rewrite money history. Corrections are new (reversal/adjustment) entries.
PostgreSQL gets a plpgsql trigger; SQLite (the embedded development default) an equivalent one.
"""

from django.db import migrations

PG_FORWARD = [
    """CREATE OR REPLACE FUNCTION referrals_ledgerentry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'referrals_ledgerentry is append-only: % refused (write a reversal or adjustment entry instead)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$""",
    "DROP TRIGGER IF EXISTS referrals_ledgerentry_no_update_delete ON referrals_ledgerentry",
    """CREATE TRIGGER referrals_ledgerentry_no_update_delete
    BEFORE UPDATE OR DELETE ON referrals_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION referrals_ledgerentry_append_only()""",
]

PG_REVERSE = [
    "DROP TRIGGER IF EXISTS referrals_ledgerentry_no_update_delete ON referrals_ledgerentry",
    "DROP FUNCTION IF EXISTS referrals_ledgerentry_append_only()",
]

SQLITE_FORWARD = [
    """CREATE TRIGGER IF NOT EXISTS referrals_ledgerentry_no_update BEFORE UPDATE ON referrals_ledgerentry
    BEGIN SELECT RAISE(ABORT, 'referrals_ledgerentry is append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER IF NOT EXISTS referrals_ledgerentry_no_delete BEFORE DELETE ON referrals_ledgerentry
    BEGIN SELECT RAISE(ABORT, 'referrals_ledgerentry is append-only: DELETE refused'); END;""",
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS referrals_ledgerentry_no_update;",
    "DROP TRIGGER IF EXISTS referrals_ledgerentry_no_delete;",
]


class VendorRunSQL(migrations.RunSQL):
    """RunSQL that picks the statements for the database vendor it runs on."""

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
    dependencies = [("referrals", "0001_initial")]

    operations = [
        VendorRunSQL(
            by_vendor={"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD},
            reverse_by_vendor={"postgresql": PG_REVERSE, "sqlite": SQLITE_REVERSE},
        )
    ]
