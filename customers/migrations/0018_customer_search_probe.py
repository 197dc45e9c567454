"""Customer search ``q``: one look-up that says "these ids" or "too many: filter in the list".

Migration 0017's ``customer_search_ids(text, text)`` returned every matching id, and the list
called it twice (page and capped count): a broad pattern (a community shared by a sixth of the
tenant) returned 16,666 ids, each rechecked on the heap, where the list only needs 26 rows and a
count capped at 1,000; phone digits read the trigram lists ``139``, ``000``… of every row.

``customer_search_ids(text_pattern, phone_pattern, phone_query, cap) RETURNS bigint[]`` (PL/pgSQL,
same owner, grants, ``search_path`` and tenant rule as 0017):

* ``NULL`` means "not answered here": platform scope, or — with a ``cap`` — a broad match. The
  caller then filters with the plain condition under RLS; the list's ordered index scan stops
  after the page, and the capped count after 1,001 matches, both early because matches are dense.
  Broad = at least ``BROAD_IN_SAMPLE`` matches among the tenant's newest ``SAMPLE`` rows (the
  list's order, one index scan), or more than ``cap`` matches found by the indexes.
* Otherwise the complete array of the tenant's matching ids (``{}`` when no tenant is set). A
  tenant of at most ``SAMPLE`` rows is answered from the sample itself.
* ``cap`` ``NULL``: always the complete array (no sample), e.g. for tests.

Phone digits get their own index: ``customer_phone_grams(phone)`` is a tsvector of the phone's
5-character windows of digits (a window may end in ``$``, standing for any non-digit or the end),
so every 5-digit window of the searched digits must be a lexeme (``'13900' & '39000' & …``), and
four digits are a prefix query (``'1234':*``). That is only a necessary condition; the phone's
``LIKE`` is rechecked. It replaces the phone trigram index, whose lists for ``139``/``000`` hold
nearly every row. The indexes are searched without the tenant (the tenant is checked on the
rows found): ANDing with a bitmap of all 100,000 rows of a large tenant cost more than the match.
``crm_search`` may now also read ``created_at`` (the sample's order). PostgreSQL only.
"""

import importlib

from django.conf import settings
from django.db import migrations, transaction
from django.db.utils import DatabaseError

OLD_FUNCTION = "customer_search_ids(text, text)"
FUNCTION = "customer_search_ids"
SIGNATURE = "customer_search_ids(text, text, text, integer)"
GRAMS = "customer_phone_grams"
GRAMS_INDEX = "cust_phone_grams_idx"
PHONE_TRGM_INDEX = "cust_phone_trgm_idx"
SAMPLE = 300
BROAD_IN_SAMPLE = 15
COLUMNS = "created_at"
TENANT = "NULLIF(pg_catalog.current_setting('app.tenant_id', true), '')::bigint"


def _match(alias: str) -> str:
    """The plain filter's condition (what the rows are checked against)."""
    return (
        f"(pg_catalog.upper({alias}.name::text) LIKE pg_catalog.upper(text_pattern)"
        f" OR pg_catalog.upper({alias}.community::text) LIKE pg_catalog.upper(text_pattern)"
        f" OR {alias}.phone::text LIKE phone_pattern)"
    )


def _grams_sql(schema: str) -> str:
    # IMMUTABLE and fully qualified: it is an index expression.
    return f"""
CREATE OR REPLACE FUNCTION {schema}.{GRAMS}(phone text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.array_to_tsvector(COALESCE(pg_catalog.array_agg(g.gram), '{{}}'::text[]))
    FROM (SELECT pg_catalog.regexp_replace(phone, '[^0-9]', '$', 'g') || '$' AS p) AS s
    CROSS JOIN LATERAL pg_catalog.generate_series(1, pg_catalog.length(s.p) - 4) AS i
    CROSS JOIN LATERAL (SELECT pg_catalog.substr(s.p, i, 5) AS gram) AS g
    WHERE g.gram ~ '^[0-9]{{4}}[0-9$]$'
$$"""


def _function_sql(schema: str) -> str:
    table = f"{schema}.customers_customer"
    return f"""
CREATE OR REPLACE FUNCTION {schema}.{FUNCTION}(
    text_pattern text, phone_pattern text, phone_query text, cap integer
) RETURNS bigint[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant bigint := {TENANT};
    scanned integer;
    matched bigint[];
BEGIN
    IF pg_catalog.current_setting('app.platform_scope', true) = 'on' THEN
        RETURN NULL;  -- every tenant (the policy's platform arm): the plain filter under RLS
    END IF;
    IF tenant IS NULL THEN
        RETURN '{{}}';
    END IF;
    IF cap IS NOT NULL THEN
        SELECT pg_catalog.count(*), pg_catalog.array_agg(s.id) FILTER (WHERE {_match("s")})
        INTO scanned, matched
        FROM (
            SELECT c.id, c.name, c.community, c.phone FROM {table} c
            WHERE c.tenant_id = tenant
            ORDER BY c.created_at DESC, c.id DESC
            LIMIT {SAMPLE}
        ) AS s;
        IF COALESCE(pg_catalog.cardinality(matched), 0) > cap
           OR (scanned = {SAMPLE} AND COALESCE(pg_catalog.cardinality(matched), 0) >= {BROAD_IN_SAMPLE}) THEN
            RETURN NULL;
        END IF;
        IF scanned < {SAMPLE} THEN
            RETURN COALESCE(matched, '{{}}');  -- the whole tenant was read
        END IF;
    END IF;
    -- (tenant_id + 0): found through the trigram and phone-gram indexes alone, the tenant is
    -- checked on the rows. The phone arm is its own branch so the rows are checked by LIKE only
    -- (the grams are an exact index condition, not recomputed per row).
    SELECT pg_catalog.array_agg(f.id) INTO matched FROM (
        SELECT c.id FROM {table} c
        WHERE (c.tenant_id + 0) = tenant
          AND (pg_catalog.upper(c.name::text) LIKE pg_catalog.upper(text_pattern)
               OR pg_catalog.upper(c.community::text) LIKE pg_catalog.upper(text_pattern))
        UNION
        SELECT c.id FROM {table} c
        WHERE (c.tenant_id + 0) = tenant
          AND {schema}.{GRAMS}(c.phone::text) OPERATOR(pg_catalog.@@) phone_query::tsquery
          AND c.phone::text LIKE phone_pattern
        LIMIT cap + 1
    ) AS f;
    IF cap IS NOT NULL AND COALESCE(pg_catalog.cardinality(matched), 0) > cap THEN
        RETURN NULL;
    END IF;
    RETURN COALESCE(matched, '{{}}');
END
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
        signature = f"{schema}.{SIGNATURE}"
        cursor.execute(_grams_sql(schema))
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {GRAMS_INDEX} ON {schema}.customers_customer"
            f" USING gin ({schema}.{GRAMS}(phone::text))"
        )
        cursor.execute(f"DROP INDEX IF EXISTS {schema}.{PHONE_TRGM_INDEX}")
        cursor.execute(f"DROP FUNCTION IF EXISTS {schema}.{OLD_FUNCTION}")
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
        cursor.execute(f"DROP FUNCTION IF EXISTS {schema}.{SIGNATURE}")
        cursor.execute(f"DROP INDEX IF EXISTS {schema}.{GRAMS_INDEX}")
        cursor.execute(f"DROP FUNCTION IF EXISTS {schema}.{GRAMS}(text)")
        role = getattr(settings, "DATABASE_SEARCH_ROLE", "")
        if role and _role_can_own(cursor, role):
            cursor.execute(f"REVOKE SELECT ({COLUMNS}) ON {schema}.customers_customer FROM {quote(role)}")
    # 0017's function and its three trigram indexes back (its ``create`` drops and rebuilds them).
    importlib.import_module("customers.migrations.0017_customer_search_function").create(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("customers", "0017_customer_search_function")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
