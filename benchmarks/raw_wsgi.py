"""The Django app plus ``/raw/customers/``: the same page by hand, served by the same gunicorn.

``/raw/customers/`` is the throughput limit for the API list: token -> tenant from a process
dict, one transaction with the tenant setting, one SQL statement (the list's columns and the
capped count), ``json.dumps``. Benchmarks only; never routed in production.
"""

from __future__ import annotations

import json
import os

import psycopg

from crm.wsgi import application as django_application

SQL = """
SELECT *, (SELECT count(*) FROM (SELECT 1 FROM customers_customer WHERE tenant_id = %(t)s LIMIT 1001) c)
       AS total
FROM customers_customer WHERE tenant_id = %(t)s ORDER BY created_at DESC, id DESC LIMIT 26
"""
_connection = None
_tenants: dict[str, int] = {}


def _raw(environ, start_response):
    global _connection
    if _connection is None:
        _connection = psycopg.connect(os.environ["BENCH_DATABASE_URL_RAW"])
    header = environ.get("HTTP_AUTHORIZATION", "")
    tenant_id = _tenants.get(header)
    with _connection.cursor() as cursor:
        if tenant_id is None:
            cursor.execute("SELECT set_config('app.platform_scope', 'on', true)")
            cursor.execute(
                "SELECT tenant_id FROM crm_apitoken WHERE key_hash = encode(sha256(%s::bytea), 'hex')",
                [header.split()[-1]],
            )
            row = cursor.fetchone()
            _connection.rollback()
            if row is None:
                start_response("401 Unauthorized", [("Content-Type", "application/json")])
                return [b"{}"]
            tenant_id = _tenants[header] = row[0]
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
        cursor.execute(SQL, {"t": tenant_id})
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    _connection.commit()
    body = json.dumps(
        {"count": rows[0]["total"] if rows else 0, "results": rows[:25]}, default=str, ensure_ascii=False
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/raw/customers/":
        return _raw(environ, start_response)
    return django_application(environ, start_response)
