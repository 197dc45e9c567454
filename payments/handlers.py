"""Reactions to projects' events through the outbox (each idempotent: a repeat changes nothing)."""

from __future__ import annotations

from crm.models import Tenant
from payments import services


def on_contract_signed(*, tenant: Tenant, project_id: int, **_payload) -> None:
    services.payment_plan_for_project(tenant=tenant, project_id=project_id)


def on_stage_changed(*, tenant: Tenant, project_id: int, to_stage: str, **_payload) -> None:
    services.payment_milestones_trigger(tenant=tenant, project_id=project_id, stage=to_stage)


def on_change_order_decided(*, tenant: Tenant, change_order_id: int, **_payload) -> None:
    services.payment_plan_apply_change_order(tenant=tenant, change_order_id=change_order_id)
