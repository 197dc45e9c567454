"""A decided (approved/rejected) change order is immutable in the database itself.

The services refuse to edit one, but a stray ``.update()``, an admin action or raw SQL could
otherwise rewrite what the customer agreed to. Only user FKs may still be nulled (a deleted
staff account), so the trigger compares the business columns.
"""

from django.db import migrations

from crm.migration_ops import VendorRunSQL

DECIDED = "('approved', 'rejected')"

PG_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION projects_changeorder_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN {DECIDED} AND (
        NEW.status IS DISTINCT FROM OLD.status OR NEW.amount_delta IS DISTINCT FROM OLD.amount_delta
        OR NEW.title IS DISTINCT FROM OLD.title OR NEW.reason IS DISTINCT FROM OLD.reason
        OR NEW.project_id IS DISTINCT FROM OLD.project_id OR NEW.number IS DISTINCT FROM OLD.number
        OR NEW.decided_at IS DISTINCT FROM OLD.decided_at
        OR NEW.decision_channel IS DISTINCT FROM OLD.decision_channel
    ) THEN
        RAISE EXCEPTION 'change order % is % and cannot be changed', OLD.id, OLD.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$""",
    f"""CREATE OR REPLACE FUNCTION projects_changeorderline_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM projects_changeorder WHERE id = NEW.change_order_id AND status IN {DECIDED}) THEN
        RAISE EXCEPTION 'lines of decided change order % cannot be changed', NEW.change_order_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$""",
    "DROP TRIGGER IF EXISTS projects_changeorder_immutable ON projects_changeorder",
    """CREATE TRIGGER projects_changeorder_immutable BEFORE UPDATE ON projects_changeorder
    FOR EACH ROW EXECUTE FUNCTION projects_changeorder_immutable()""",
    "DROP TRIGGER IF EXISTS projects_changeorderline_immutable ON projects_changeorderline",
    """CREATE TRIGGER projects_changeorderline_immutable BEFORE INSERT OR UPDATE ON projects_changeorderline
    FOR EACH ROW EXECUTE FUNCTION projects_changeorderline_immutable()""",
]

PG_REVERSE = [
    "DROP TRIGGER IF EXISTS projects_changeorder_immutable ON projects_changeorder",
    "DROP TRIGGER IF EXISTS projects_changeorderline_immutable ON projects_changeorderline",
    "DROP FUNCTION IF EXISTS projects_changeorder_immutable()",
    "DROP FUNCTION IF EXISTS projects_changeorderline_immutable()",
]

SQLITE_FORWARD = [
    f"""CREATE TRIGGER IF NOT EXISTS projects_changeorder_immutable BEFORE UPDATE ON projects_changeorder
    WHEN OLD.status IN {DECIDED} AND (NEW.status IS NOT OLD.status OR NEW.amount_delta IS NOT OLD.amount_delta
        OR NEW.title IS NOT OLD.title OR NEW.reason IS NOT OLD.reason)
    BEGIN SELECT RAISE(ABORT, 'decided change order cannot be changed'); END;""",
    f"""CREATE TRIGGER IF NOT EXISTS projects_changeorderline_immutable_ins BEFORE INSERT ON projects_changeorderline
    WHEN (SELECT status FROM projects_changeorder WHERE id = NEW.change_order_id) IN {DECIDED}
    BEGIN SELECT RAISE(ABORT, 'lines of a decided change order cannot be changed'); END;""",
    f"""CREATE TRIGGER IF NOT EXISTS projects_changeorderline_immutable_upd BEFORE UPDATE ON projects_changeorderline
    WHEN (SELECT status FROM projects_changeorder WHERE id = NEW.change_order_id) IN {DECIDED}
    BEGIN SELECT RAISE(ABORT, 'lines of a decided change order cannot be changed'); END;""",
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS projects_changeorder_immutable;",
    "DROP TRIGGER IF EXISTS projects_changeorderline_immutable_ins;",
    "DROP TRIGGER IF EXISTS projects_changeorderline_immutable_upd;",
]


class Migration(migrations.Migration):
    dependencies = [("projects", "0002_stages_plans_logs_qc_change_orders")]

    operations = [
        VendorRunSQL(
            by_vendor={"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD},
            reverse_by_vendor={"postgresql": PG_REVERSE, "sqlite": SQLITE_REVERSE},
        )
    ]
