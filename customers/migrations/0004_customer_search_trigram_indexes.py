"""pg_trgm indexes for the list's ``q`` search (name / community ``icontains``, phone ``contains``).

Django writes ``icontains`` as ``UPPER(col::text) LIKE UPPER(%s)``, so the name and community
indexes are on ``UPPER(...)``; ``contains`` is a plain ``LIKE``. Each index leads with nothing but
the trigrams (GIN cannot lead with ``tenant_id`` without btree_gin); the planner ANDs the bitmap
with the tenant's rows. ``CREATE EXTENSION pg_trgm`` needs no superuser since PostgreSQL 13 (a
trusted extension: the database owner may create it); scripts/ensure_services.sh and
docker-initdb.sql also create it as the superuser for roles that do not own the database.
PostgreSQL only: the SQLite demo searches without an index.
"""

from django.db import migrations

INDEXES = {
    "cust_name_trgm_idx": "UPPER(name::text) gin_trgm_ops",
    "cust_community_trgm_idx": "UPPER(community::text) gin_trgm_ops",
    "cust_phone_trgm_idx": "phone gin_trgm_ops",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON customers_customer USING gin ({expression})"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_tenant_keyset_and_due_work_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
