"""Incremental sync for API clients: ``?updated_since=`` / ``?created_since=`` on every collection.

Every model behind an API collection declares ``api_sync_fields = (created, updated)``: the
columns the two filters read. Append-only tables (the event log, the referral ledger, stage
history, consent records) name their one timestamp twice: a row that is never changed was last
updated when it was written.

For each declared model this module adds, once and for all models:

* the tenant-led indexes ``(tenant, updated, id)`` and ``(tenant, created, id)`` that serve the
  filter and its order (skipped when an index leading with ``(tenant, column)`` already exists);
* on PostgreSQL, a ``BEFORE UPDATE`` trigger that moves ``updated`` forward on *every* update,
  including ``QuerySet.update()`` and ``save(update_fields=[...])``, which skip ``auto_now``
  (installed after every ``migrate``, like the RLS policies; an update that sets the column
  itself keeps its value).

A filtered list is ordered by that column ascending, then by id, and paginated by the one keyset
pagination (``crm.api.pagination``): a row updated while a client walks the pages moves to the end
and is read again with its new values, instead of being skipped. Deletions are not in any
collection: the event log (``/api/v1/events/?after=``) is the tombstone feed.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.db import connections, models

if TYPE_CHECKING:
    from collections.abc import Iterable

CREATED_SINCE = "created_since"
UPDATED_SINCE = "updated_since"
TRIGGER_NAME = "crm_touch_updated_at"
TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {TRIGGER_NAME}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END;
$$
"""


def sync_fields(model: type[models.Model]) -> tuple[str, str] | None:
    """``(created, updated)`` column names of ``model``, or ``None`` if it declares none."""
    return getattr(model, "api_sync_fields", None)


def _index_name(table: str, column: str) -> str:
    digest = hashlib.sha1(f"{table}.{column}".encode()).hexdigest()[:10]  # noqa: S324 - a name, not a secret
    return f"sync_{digest}_{column[:10]}"[:30]


def sync_indexes(model: type[models.Model]) -> list[models.Index]:
    """The tenant-led indexes ``model`` lacks for its sync columns."""
    declared = sync_fields(model)
    if declared is None:
        return []
    existing = [list(index.fields) for index in model._meta.indexes]
    wanted = []
    for column in dict.fromkeys(declared):  # once when created == updated
        if any(fields[:2] == ["tenant", column] for fields in existing):
            continue
        wanted.append(
            models.Index(fields=["tenant", column, "id"], name=_index_name(model._meta.db_table, column))
        )
    return wanted


def _add_sync_indexes(sender: type[models.Model], **kwargs) -> None:
    from crm.tenancy import TenantOwnedModel

    if not issubclass(sender, TenantOwnedModel) or sender._meta.abstract or sender._meta.proxy:
        return
    names = {index.name for index in sender._meta.indexes}
    added = [index for index in sync_indexes(sender) if index.name not in names]
    if added:
        sender._meta.indexes = [*sender._meta.indexes, *added]
        sender._meta.original_attrs["indexes"] = sender._meta.indexes


models.signals.class_prepared.connect(_add_sync_indexes)


def touched_tables() -> list[str]:
    """Tables whose ``updated_at`` the database keeps current (see the module docstring)."""
    from django.apps import apps

    tables = []
    for model in apps.get_models():
        declared = sync_fields(model)
        if declared is None or declared[1] != "updated_at" or declared[0] == declared[1]:
            continue
        if model._meta.managed and not model._meta.proxy:
            tables.append(model._meta.db_table)
    return tables


def _tables_missing_trigger(cursor, tables: Iterable[str]) -> list[str]:
    cursor.execute(
        """
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
        WHERE c.relname = ANY(%s) AND c.relkind = 'r'
          AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = %s)
        """,
        [list(tables), TRIGGER_NAME],
    )
    return [row[0] for row in cursor.fetchall()]


def install_touch_triggers(using: str = "default", **kwargs) -> None:
    """post_migrate: the ``updated_at`` trigger on every synced table that lacks it (idempotent)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        missing = _tables_missing_trigger(cursor, touched_tables())
        if not missing:
            return
        cursor.execute(TRIGGER_FUNCTION)
        for table in missing:
            cursor.execute(
                f'CREATE TRIGGER {TRIGGER_NAME} BEFORE UPDATE ON "{table}" '
                f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER_NAME}()"
            )
