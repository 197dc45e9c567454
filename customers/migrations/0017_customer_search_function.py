"""Customer search ``q`` through a SECURITY DEFINER function, so the trigram indexes work under RLS.

For a role subject to row-level security PostgreSQL applies a user condition as an index condition
only if its functions are LEAKPROOF; ``upper()`` and ``LIKE`` are not, so the list's search filtered
every row of the tenant (~170 ms at 100,000 customers) although the trigram indexes of migration
0004 exist. ``customer_search_ids(text_pattern, phone_pattern)`` returns the ids of the matching
customers of the tenant in ``app.tenant_id`` — the same setting and the same platform-scope rule
as the RLS policy (``crm/rls.py``) — and the list filters ``id IN (SELECT …)`` (integer equality is
leakproof), still under RLS and the tenant filter.

The tables use FORCE ROW LEVEL SECURITY, so a function owned by the migration role (the table
owner) would still be bound by RLS and gain nothing: the function is handed to
``settings.DATABASE_SEARCH_ROLE`` (NOLOGIN, BYPASSRLS, SELECT on five columns of one table; created
by the superuser in scripts/ensure_services.sh and docker-initdb.sql, and granted to the migration
role so it may transfer ownership). Without that role the function stays with the migration role:
correct, but no faster than the plain filter. EXECUTE is revoked from PUBLIC and granted to the
migration role and ``DATABASE_APP_ROLE``. ``search_path`` is fixed (every name is qualified,
``pg_temp`` last), the patterns are parameters (never concatenated).

The trigram indexes of 0004 are replaced by the same indexes led by ``tenant_id`` (btree_gin, a
trusted extension like pg_trgm): one GIN scan then yields only the tenant's matches, instead of
every tenant's matches ANDed with a bitmap of all of the tenant's rows (100,000 entries read per
search in the benchmark's large tenant). PostgreSQL only.
"""

from django.conf import settings
from django.db import migrations, transaction
from django.db.utils import DatabaseError

FUNCTION = "customer_search_ids"
# name -> (expression of 0004, expression now)
INDEXES = {
    "cust_name_trgm_idx": ("UPPER(name::text) gin_trgm_ops", "tenant_id, UPPER(name::text) gin_trgm_ops"),
    "cust_community_trgm_idx": (
        "UPPER(community::text) gin_trgm_ops",
        "tenant_id, UPPER(community::text) gin_trgm_ops",
    ),
    "cust_phone_trgm_idx": ("phone gin_trgm_ops", "tenant_id, phone gin_trgm_ops"),
}
COLUMNS = "id, tenant_id, name, community, phone"

MATCH = (
    "(upper(c.name::text) LIKE upper(text_pattern)"
    " OR upper(c.community::text) LIKE upper(text_pattern)"
    " OR c.phone::text LIKE phone_pattern)"
)
TENANT = "NULLIF(pg_catalog.current_setting('app.tenant_id', true), '')::bigint"


def _function_sql(schema: str) -> str:
    # The second arm is the policy's platform scope (its one-time filter skips it otherwise).
    return f"""
CREATE OR REPLACE FUNCTION {schema}.{FUNCTION}(text_pattern text, phone_pattern text)
RETURNS SETOF bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.id FROM {schema}.customers_customer c
    WHERE c.tenant_id = {TENANT} AND {MATCH}
    UNION ALL
    SELECT c.id FROM {schema}.customers_customer c
    WHERE pg_catalog.current_setting('app.platform_scope', true) = 'on'
      AND c.tenant_id IS DISTINCT FROM {TENANT} AND {MATCH}
$$"""


def _role_can_own(cursor, role: str) -> bool:
    cursor.execute(
        "SELECT rolbypassrls AND pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %s",
        [role],
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def create(apps, schema_editor):  # noqa: ARG001 - RunPython signature
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema_name = cursor.fetchone()[0]
        schema = quote(schema_name)
        signature = f"{schema}.{FUNCTION}(text, text)"
        cursor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        for name, (_, expression) in INDEXES.items():
            cursor.execute(f"DROP INDEX IF EXISTS {schema}.{name}")
            cursor.execute(f"CREATE INDEX {name} ON {schema}.customers_customer USING gin ({expression})")
        cursor.execute(_function_sql(schema))
        cursor.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        cursor.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO CURRENT_USER")
        app_role = getattr(settings, "DATABASE_APP_ROLE", "")
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [app_role])
        if app_role and cursor.fetchone():
            cursor.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {quote(app_role)}")
        role = getattr(settings, "DATABASE_SEARCH_ROLE", "")
        if not role or not _role_can_own(cursor, role):
            return
        cursor.execute("SELECT has_schema_privilege(%s, %s, 'CREATE')", [role, schema_name])
        had_create = cursor.fetchone()[0]
        try:
            with transaction.atomic(using=connection.alias):
                cursor.execute(f"GRANT SELECT ({COLUMNS}) ON {schema}.customers_customer TO {quote(role)}")
                cursor.execute(f"GRANT USAGE ON SCHEMA {schema} TO {quote(role)}")
                if not had_create:  # ALTER … OWNER wants the new owner to be able to create there
                    cursor.execute(f"GRANT CREATE ON SCHEMA {schema} TO {quote(role)}")
                cursor.execute(f"ALTER FUNCTION {signature} OWNER TO {quote(role)}")
                if not had_create:
                    cursor.execute(f"REVOKE CREATE ON SCHEMA {schema} FROM {quote(role)}")
        except DatabaseError:  # the migration role may not administer the schema: stay correct, slower
            return


def drop(apps, schema_editor):  # noqa: ARG001 - RunPython signature
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])
        cursor.execute(f"DROP FUNCTION IF EXISTS {schema}.{FUNCTION}(text, text)")
        for name, (expression, _) in INDEXES.items():
            cursor.execute(f"DROP INDEX IF EXISTS {schema}.{name}")
            cursor.execute(f"CREATE INDEX {name} ON {schema}.customers_customer USING gin ({expression})")
        role = getattr(settings, "DATABASE_SEARCH_ROLE", "")
        if role and _role_can_own(cursor, role):
            cursor.execute(f"REVOKE SELECT ({COLUMNS}) ON {schema}.customers_customer FROM {quote(role)}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0016_customer_email")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
