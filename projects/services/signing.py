"""The signing gate: before a contract is signed, the steps the tenant requires must be done.

The steps are the requirements registered in ``projects.extensions`` (projects: measurement;
quotes: an accepted quotation; sales adds its completed 量房 appointment as another way to meet
"measurement"). A tenant picks the required ones in ``SigningPolicy`` (no row: the defaults). A
manager may sign anyway with a reason; the override and the missing steps go into the stage history.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from crm.permissions import require_permission
from projects import extensions
from projects.models import DEFAULT_SIGNING_STEPS, Project, SigningPolicy

OVERRIDE_REASON_MAX = 200


def required_signing_steps(*, tenant: Tenant) -> list[str]:
    """The tenant's required step keys that some app has registered (unknown keys are ignored)."""
    policy = SigningPolicy.objects.filter(tenant=tenant).first()
    steps = list(DEFAULT_SIGNING_STEPS) if policy is None else list(policy.required_steps or [])
    known = extensions.signing_requirements()
    return [key for key in steps if key in known]


def missing_signing_steps(*, tenant: Tenant, project: Project) -> list[extensions.SigningRequirement]:
    known = extensions.signing_requirements()
    return [
        known[key]
        for key in required_signing_steps(tenant=tenant)
        if not known[key].is_met(tenant=tenant, project=project)
    ]


def signing_gate(*, tenant: Tenant, project: Project, signed_by: User, override_reason: str = "") -> str:
    """Check the gate before signing; returns the note for the stage history ("" when all is done).

    Missing steps without an override: ``ValidationError`` on ``requirements`` with one message and
    one code (``missing_<key>``) per missing step. An override needs ``projects.sign_override``.
    """
    missing = missing_signing_steps(tenant=tenant, project=project)
    reason = (override_reason or "").strip()
    if len(reason) > OVERRIDE_REASON_MAX:
        raise ValidationError(
            {
                "override_reason": [
                    ValidationError(_("最多 %(n)s 个字符。") % {"n": OVERRIDE_REASON_MAX}, code="too_long")
                ]
            }
        )
    if not missing:
        return ""
    labels = "、".join(str(step.label) for step in missing)
    if not reason:
        raise ValidationError(
            {
                "requirements": [
                    ValidationError(
                        _("签约前还需完成：%(step)s。") % {"step": step.label}, code=f"missing_{step.key}"
                    )
                    for step in missing
                ]
            }
        )
    require_permission(signed_by, "projects.sign_override")
    return f"经理越过签约前置条件（未完成：{labels}）：{reason}"


@transaction.atomic
def signing_policy_update(*, tenant: Tenant, actor: User, required_steps: list[str]) -> SigningPolicy:
    """Set the steps this tenant requires before signing (any registered keys; empty = none)."""
    require_permission(actor, "projects.settings")
    known = extensions.signing_requirements()
    if not isinstance(required_steps, list) or any(not isinstance(key, str) for key in required_steps):
        raise ValidationError(
            {"required_steps": [ValidationError(_("请选择签约前置步骤。"), code="invalid")]}
        )
    unknown = [key for key in required_steps if key not in known]
    if unknown:
        raise ValidationError(
            {
                "required_steps": [
                    ValidationError(
                        _("未知的签约前置步骤：%(keys)s") % {"keys": "、".join(unknown)}, code="unknown_step"
                    )
                ]
            }
        )
    ordered = [key for key in known if key in set(required_steps)]
    policy, _created = SigningPolicy.objects.update_or_create(
        tenant=tenant, defaults={"required_steps": ordered}
    )
    return policy
