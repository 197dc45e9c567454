"""Wall 2: PostgreSQL row-level security, proven with raw SQL as a non-superuser role."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import JsonResponse
from django.test import RequestFactory

from crm.middleware import TenantMiddleware
from crm.models import ApiToken
from crm.rls import FORMER_POLICY_NAMES, POLICY_NAME
from crm.tenancy import tenant_context, tenant_owned_models
from tests.factories import PROBE_FACTORIES


def test_tests_do_not_run_as_a_superuser(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False), "RLS tests would prove nothing as a superuser"


def test_every_tenant_owned_table_has_forced_rls(db):
    tables = [model._meta.db_table for model in tenant_owned_models()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relrowsecurity AND relforcerowsecurity",
            [tables],
        )
        protected = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT tablename, policyname FROM pg_policies")
        policies = cursor.fetchall()
    with_policy = {table for table, name in policies if name == POLICY_NAME}
    assert set(tables) <= protected
    assert set(tables) <= with_policy
    # One policy per table: a former one left beside it would be OR-ed with it (and cost per row).
    assert not [(table, name) for table, name in policies if name in FORMER_POLICY_NAMES]


def _raw_count(table: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT DISTINCT tenant_id FROM "{table}"')  # no WHERE clause on purpose
        return sorted(row[0] for row in cursor.fetchall())


def test_raw_sql_inside_tenant_a_request_sees_none_of_tenant_b(tenant_a, tenant_b, make_staff):
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            PROBE_FACTORIES[ApiToken](tenant)
    user_a = make_staff(tenant_a)
    seen = {}

    def view(request):
        seen["tenant_ids"] = _raw_count(ApiToken._meta.db_table)
        return JsonResponse({})

    request = RequestFactory().get("/")
    request.user = user_a
    TenantMiddleware(view)(request)
    assert seen["tenant_ids"] == [tenant_a.id]


def test_raw_sql_with_no_tenant_sees_nothing(tenant_a):
    with tenant_context(tenant_a):
        PROBE_FACTORIES[ApiToken](tenant_a)
    assert _raw_count(ApiToken._meta.db_table) == []


def test_raw_insert_into_another_tenant_is_rejected(tenant_a, tenant_b, make_staff):
    user_b = make_staff(tenant_b)
    with (
        pytest.raises(Exception, match="row-level security"),
        tenant_context(tenant_a),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO crm_apitoken (tenant_id, name, user_id, prefix, key_hash, created_at) "
            "VALUES (%s, 'x', %s, 'p', 'h', now())",
            [tenant_b.id, user_b.id],
        )


@pytest.mark.django_db(transaction=True)
def test_app_role_is_a_non_owner_that_rls_binds_and_cannot_disable_it(tenant_a, tenant_b):
    """Production shape: the app connects as a role that owns nothing; migrations granted it DML."""
    import psycopg
    from django.conf import settings

    role = settings.DATABASE_APP_ROLE
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            PROBE_FACTORIES[ApiToken](tenant)
    params = connection.get_connection_params()
    params.update(user=role, password=role)
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as app_connection, app_connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_a.id)])
        cursor.execute("SELECT DISTINCT tenant_id FROM crm_apitoken")
        assert [row[0] for row in cursor.fetchall()] == [tenant_a.id]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            cursor.execute("ALTER TABLE crm_apitoken DISABLE ROW LEVEL SECURITY")
