"""The shared append-only operation really refuses rewrites in PostgreSQL (and only what it is told to)."""

import pytest
from django.db import IntegrityError, connection, transaction

from crm.migration_ops import append_only

pytestmark = pytest.mark.django_db


def _make_table(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {name} (id serial PRIMARY KEY, note text)")
        cursor.execute(f"INSERT INTO {name} (note) VALUES ('first'), ('second')")


def _run(statements) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def test_update_and_delete_refused_insert_allowed():
    _make_table("t_ledger_like")
    _run(append_only("t_ledger_like", hint="write a reversal").by_vendor["postgresql"])
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO t_ledger_like (note) VALUES ('third')")
        for statement in ("UPDATE t_ledger_like SET note = 'x'", "DELETE FROM t_ledger_like"):
            with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
                cursor.execute(statement)
        cursor.execute("SELECT count(*), min(note) FROM t_ledger_like")
        assert cursor.fetchone() == (3, "first")


def test_update_only_leaves_delete_to_cascades():
    _make_table("t_history_like")
    _run(append_only("t_history_like", refuse=("UPDATE",)).by_vendor["postgresql"])
    with connection.cursor() as cursor:
        with pytest.raises(IntegrityError, match="UPDATE refused"), transaction.atomic():
            cursor.execute("UPDATE t_history_like SET note = 'x'")
        cursor.execute("DELETE FROM t_history_like WHERE note = 'first'")
        cursor.execute("SELECT count(*) FROM t_history_like")
        assert cursor.fetchone() == (1,)


def test_refuses_unknown_operations():
    with pytest.raises(ValueError):
        append_only("t", refuse=("INSERT",))
