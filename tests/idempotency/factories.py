"""Probe factory for the idempotency store (tenant isolation and RLS probes)."""

from __future__ import annotations

from crm.idempotency.models import IdempotencyKey
from tests.factories import probe_factory


@probe_factory(IdempotencyKey)
def _idempotency_key(tenant) -> IdempotencyKey:
    return IdempotencyKey.objects.create(
        tenant=tenant, key="probe-key", scope="probe", request_fingerprint="0" * 64, response_status=201
    )
