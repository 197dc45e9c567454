"""Merging duplicate customers (撞单, issue 14 §2): field-by-field choice, every app's rows move, undo.

The merge runs in one transaction: both customer rows are locked (lower id first), a
``CustomerMerge`` audit record is written, each app's registered handler moves its rows
(``crm.extensions.register_customer_merge_handler``; customers imports no later app), the duplicate
is archived — never deleted — pointing to the survivor, and the survivor takes the chosen values.
The record holds the duplicate's and the survivor's previous values and the ids of every moved row,
so :func:`customer_merge_undo` can put everything back.

Errors carry stable codes: ``merge_self``, ``already_merged``, ``anonymised``, ``invalid_choice``,
``already_undone``, ``survivor_merged``, ``phone_taken`` (and an app's own, e.g. the referrals').
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any, cast

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import events, extensions
from crm.models import Tenant, User
from crm.permissions import require_permission
from customers.models import (
    AuditAction,
    Customer,
    CustomerAuditLog,
    CustomerMerge,
    CustomerOwnership,
    FollowUp,
    Lead,
    Lifecycle,
    OwnershipReason,
    PoolClaim,
)
from customers.services.classification import customer_recompute
from customers.services.customers import CUSTOMER_EDITABLE_FIELDS
from customers.services.privacy import audit_log

SURVIVOR = "survivor"
DUPLICATE = "duplicate"

# Chosen field by field; tags are united instead of chosen.
MERGE_FIELDS = [field for field in CUSTOMER_EDITABLE_FIELDS if field != "tags"]
# Facts pushed by other apps and activity stamps: kept as the survivor's, combined where obvious.
_SNAPSHOT_EXTRA = [
    "tags",
    "owner",
    "in_pool",
    "pooled_at",
    "pool_reason",
    "last_touch_at",
    "next_follow_up_at",
    "measured_at",
    "project_lifecycle",
]


# Facts other apps push through customers services while their handlers run: re-read, never overwrite.
_PUSHED_FACTS = [
    "signed_projects",
    "contract_total_fen",
    "credited_referrals",
    "referral_credit_total_fen",
    "is_vip",
]


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _field(name: str) -> models.Field:
    return cast("models.Field", Customer._meta.get_field(name))


def _json_value(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def _snapshot(customer: Customer, fields: list[str]) -> dict[str, Any]:
    values = {}
    for name in fields:
        attname = _field(name).attname  # owner -> owner_id: no query
        values[name] = _json_value(getattr(customer, attname))
    return values


def _restore(customer: Customer, values: dict[str, Any]) -> None:
    for name, value in values.items():
        field = _field(name)
        setattr(customer, field.attname, field.to_python(value) if value is not None else None)


def _lock_pair(first_id: int, second_id: int) -> dict[int, Customer]:
    """Both rows, locked in id order (two merges of the same pair cannot deadlock)."""
    rows = (
        Customer.objects.select_for_update(of=("self",)).filter(pk__in=[first_id, second_id]).order_by("pk")
    )
    return {customer.pk: customer for customer in rows}


def validate_field_choices(field_choices: object) -> dict[str, str]:
    if field_choices is None:
        return {}
    if not isinstance(field_choices, dict):
        raise _error("fields", _("字段取值必须是 {字段: survivor|duplicate}。"), "invalid_choice")
    unknown = sorted(str(name) for name in field_choices if name not in MERGE_FIELDS)
    if unknown:
        raise _error(
            "fields",
            _("不可合并的字段：%(fields)s") % {"fields": _("、").join(unknown)[:200]},
            "invalid_choice",
        )
    wrong = sorted(name for name, side in field_choices.items() if side not in (SURVIVOR, DUPLICATE))
    if wrong:
        raise _error(
            "fields",
            _("字段 %(fields)s 的取值只能是 survivor 或 duplicate。") % {"fields": _("、").join(wrong)},
            "invalid_choice",
        )
    return {str(name): str(side) for name, side in field_choices.items()}


# --------------------------------------------------------------------------- rows of each app


def move_customer_rows(
    model: type[models.Model],
    field: str,
    *,
    source: Customer,
    target: Customer,
    exclude: models.Q | None = None,
) -> list[int]:
    """Point ``model.field`` rows of ``source`` at ``target``; returns the moved ids (for undo)."""
    rows = model._default_manager.filter(**{field: source})
    if exclude is not None:
        rows = rows.exclude(exclude)
    ids = sorted(rows.values_list("pk", flat=True))
    if ids:
        model._default_manager.filter(pk__in=ids).update(**{field: target})
    return ids


def moved_key(model: type[models.Model], field: str) -> str:
    return f"{model._meta.label}.{field}"


def restore_moved_rows(record: dict, *, source: Customer, target: Customer) -> None:
    """Default undo: rows listed in ``record["moved"]`` that still belong to ``target`` go back."""
    for key, ids in (record.get("moved") or {}).items():
        label, field = key.rsplit(".", 1)
        model = apps.get_model(label)
        if ids:
            model._default_manager.filter(pk__in=ids, **{field: target}).update(**{field: source})


def merge_customer_rows(
    *,
    tenant: Tenant,  # noqa: ARG001 - the handler signature
    source: Customer,
    target: Customer,
    actor: User | None,  # noqa: ARG001
    merge: CustomerMerge,  # noqa: ARG001
) -> dict:
    """This app's own rows: leads, follow-ups, pool claims and the PIPL audit log."""
    survivor_poolings = PoolClaim.objects.filter(customer=target).values("pooled_at")
    return {
        "moved": {
            moved_key(Lead, "customer"): move_customer_rows(Lead, "customer", source=source, target=target),
            moved_key(FollowUp, "customer"): move_customer_rows(
                FollowUp, "customer", source=source, target=target
            ),
            moved_key(PoolClaim, "customer"): move_customer_rows(
                PoolClaim,
                "customer",
                source=source,
                target=target,
                exclude=models.Q(pooled_at__in=survivor_poolings),
            ),
            moved_key(CustomerAuditLog, "customer"): move_customer_rows(
                CustomerAuditLog, "customer", source=source, target=target
            ),
        }
    }


def _handler_key(handler: Any) -> str:
    return f"{handler.__module__}.{handler.__qualname__}"


# --------------------------------------------------------------------------- merge


def _later_lifecycle(first: str, second: str) -> str:
    order = list(Lifecycle.values)
    ranked = [value for value in (first, second) if value in order]
    return max(ranked, key=order.index) if ranked else ""


def _combine_activity(survivor: Customer, duplicate: Customer) -> None:
    survivor.tags = list(dict.fromkeys([*(survivor.tags or []), *(duplicate.tags or [])]))
    stamps = [stamp for stamp in (survivor.last_touch_at, duplicate.last_touch_at) if stamp]
    survivor.last_touch_at = max(stamps) if stamps else None
    measured = [stamp for stamp in (survivor.measured_at, duplicate.measured_at) if stamp]
    survivor.measured_at = min(measured) if measured else None
    upcoming = [stamp for stamp in (survivor.next_follow_up_at, duplicate.next_follow_up_at) if stamp]
    survivor.next_follow_up_at = min(upcoming) if upcoming else None
    survivor.project_lifecycle = _later_lifecycle(survivor.project_lifecycle, duplicate.project_lifecycle)


@transaction.atomic
def customer_merge(
    *,
    tenant: Tenant,
    survivor: Customer,
    duplicate: Customer,
    actor: User,
    field_choices: dict[str, str] | None = None,
) -> CustomerMerge:
    """Merge ``duplicate`` into ``survivor``; ``field_choices`` picks each field's surviving value
    (missing fields keep the survivor's). Returns the audit record (undo with :func:`customer_merge_undo`)."""
    require_permission(actor, "customers.merge")
    choices = validate_field_choices(field_choices)
    if survivor.pk == duplicate.pk:
        raise _error("duplicate", _("不能把客户与自己合并。"), "merge_self")
    if survivor.tenant_id != tenant.pk or duplicate.tenant_id != tenant.pk:
        raise _error("duplicate", _("客户不存在。"), "not_found")
    locked = _lock_pair(survivor.pk, duplicate.pk)
    if len(locked) != 2:
        raise _error("duplicate", _("客户不存在。"), "not_found")
    survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
    for customer, field in ((survivor, "survivor"), (duplicate, "duplicate")):
        if customer.is_merged:
            raise _error(
                field,
                _("客户「%(name)s」已合并到 #%(target)s，不能再次合并。")
                % {"name": customer.name, "target": customer.merged_into_id},
                "already_merged",
            )
        if customer.is_anonymised:
            raise _error(field, _("已匿名化的客户不能合并。"), "anonymised")

    from_duplicate = sorted(name for name, side in choices.items() if side == DUPLICATE)
    merge = CustomerMerge.objects.create(
        tenant=tenant,
        survivor=survivor,
        duplicate=duplicate,
        merged_by=actor,
        field_choices=choices,
        duplicate_values=_snapshot(duplicate, [*MERGE_FIELDS, *_SNAPSHOT_EXTRA]),
        survivor_values=_snapshot(survivor, [*MERGE_FIELDS, *_SNAPSHOT_EXTRA]),
    )
    moved: dict[str, dict] = {}
    for handler, _undo in extensions.customer_merge_handlers():
        moved[_handler_key(handler)] = handler(
            tenant=tenant, source=duplicate, target=survivor, actor=actor, merge=merge
        )
    merge.moved = moved
    merge.save(update_fields=["moved"])
    survivor.refresh_from_db(fields=_PUSHED_FACTS)
    duplicate.refresh_from_db(fields=_PUSHED_FACTS)

    chosen = {name: getattr(duplicate, _field(name).attname) for name in from_duplicate}
    # Archive the duplicate first: its phone and WeChat id are free for the survivor to take (and
    # its e-mail address goes too: an archived record must not be reachable by marketing).
    now = timezone.now()
    duplicate.phone = f"merged-{duplicate.pk}"
    duplicate.wechat_id = ""
    duplicate.email = ""
    duplicate.merged_into = survivor
    duplicate.merged_at = now
    duplicate.owner = None
    duplicate.in_pool = False
    duplicate.next_follow_up_at = None
    duplicate.save()
    for name, value in chosen.items():
        setattr(survivor, _field(name).attname, value)
    _combine_activity(survivor, duplicate)
    customer_recompute(tenant=tenant, customer=survivor, save=False)
    survivor.save()
    customer_recompute(tenant=tenant, customer=duplicate)
    if "owner" in chosen:
        CustomerOwnership.objects.filter(customer=survivor, ended_at__isnull=True).update(
            reason=OwnershipReason.MERGED, changed_by=actor
        )
    CustomerOwnership.objects.filter(customer=duplicate, ended_at__isnull=True).update(
        reason=OwnershipReason.MERGED, changed_by=actor
    )
    counts = {
        key: sum(len(ids) for ids in (record.get("moved") or {}).values()) for key, record in moved.items()
    }
    for customer in (survivor, duplicate):
        audit_log(
            tenant=tenant,
            actor=actor,
            action=AuditAction.MERGE,
            customer=customer,
            merge_id=merge.pk,
            survivor_id=survivor.pk,
            duplicate_id=duplicate.pk,
            fields_from_duplicate=from_duplicate,
            moved_rows=counts,
        )
    events.publish(
        events.EventType.CUSTOMER_UPDATED,
        tenant=tenant,
        customer_id=survivor.pk,
        fields=sorted({*from_duplicate, "tags"}),
    )
    return merge


@transaction.atomic
def customer_merge_undo(*, tenant: Tenant, merge: CustomerMerge, actor: User) -> CustomerMerge:
    """Put a merge back: the duplicate returns with its own values and every row that moved.

    Rows added to the survivor after the merge stay with it. Refused when the survivor has itself
    been merged since (undo that first) or the duplicate's number now belongs to someone else.
    """
    require_permission(actor, "customers.merge")
    merge = CustomerMerge.objects.select_for_update(of=("self",)).get(pk=merge.pk)
    if merge.undone_at is not None:
        raise _error("merge", _("该合并已撤销。"), "already_undone")
    locked = _lock_pair(merge.survivor_id, merge.duplicate_id)
    survivor, duplicate = locked[merge.survivor_id], locked[merge.duplicate_id]
    if survivor.is_merged:
        raise _error(
            "merge",
            _("保留客户已再次合并到 #%(target)s，请先撤销那次合并。") % {"target": survivor.merged_into_id},
            "survivor_merged",
        )
    if survivor.is_anonymised:
        raise _error("merge", _("保留客户已匿名化，不能撤销合并。"), "anonymised")
    old = merge.duplicate_values
    taken = Customer.objects.filter(phone=old["phone"]).exclude(pk__in=[survivor.pk, duplicate.pk]).first()
    if taken is not None:
        raise _error(
            "merge",
            _("被合并客户原手机号已属于客户 #%(id)s，不能撤销。") % {"id": taken.pk},
            "phone_taken",
        )

    handlers = extensions.customer_merge_handlers()
    for handler, undo in reversed(handlers):
        record = (merge.moved or {}).get(_handler_key(handler)) or {}
        restore_moved_rows(record, source=duplicate, target=survivor)
        if undo is not None:
            undo(tenant=tenant, source=duplicate, target=survivor, actor=actor, merge=merge, record=record)
    survivor.refresh_from_db(fields=_PUSHED_FACTS)
    duplicate.refresh_from_db(fields=_PUSHED_FACTS)

    # The survivor gives back what it took (its own values return), then the duplicate is restored.
    from_duplicate = [name for name, side in merge.field_choices.items() if side == DUPLICATE]
    _restore(survivor, {name: merge.survivor_values[name] for name in from_duplicate})
    added_tags = set(old.get("tags") or []) - set(merge.survivor_values.get("tags") or [])
    survivor.tags = [tag for tag in survivor.tags or [] if tag not in added_tags]
    for name in ("last_touch_at", "measured_at", "next_follow_up_at", "project_lifecycle"):
        _restore(survivor, {name: merge.survivor_values[name]})
    customer_recompute(tenant=tenant, customer=survivor, save=False)
    try:
        with transaction.atomic():
            survivor.save()
            _restore(
                duplicate, {name: old[name] for name in [*MERGE_FIELDS, *_SNAPSHOT_EXTRA] if name in old}
            )
            duplicate.merged_into = None
            duplicate.merged_at = None
            customer_recompute(tenant=tenant, customer=duplicate, save=False)
            duplicate.save()
    except IntegrityError:
        raise _error("merge", _("被合并客户原手机号或微信号已被其他客户使用，不能撤销。"), "phone_taken")
    merge.undone_at = timezone.now()
    merge.undone_by = actor
    merge.save(update_fields=["undone_at", "undone_by"])
    for customer in (survivor, duplicate):
        audit_log(
            tenant=tenant,
            actor=actor,
            action=AuditAction.UNMERGE,
            customer=customer,
            merge_id=merge.pk,
            survivor_id=survivor.pk,
            duplicate_id=duplicate.pk,
        )
    return merge
