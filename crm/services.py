"""Platform writes: tenants, staff users, API tokens.

Tenant-scoped services run inside the caller's tenant context (request, task or test)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import (
    TOKEN_SCOPE_LABELS,
    ApiToken,
    Role,
    Tenant,
    User,
    hash_token,
    normalise_token_scopes,
)
from crm.permissions import permissions_of, require_permission, scopes_within, token_scopes_for


@transaction.atomic
def tenant_create(
    *,
    name: str,
    slug: str,
    admin_username: str,
    admin_password: str,
    admin_email: str = "",
    timezone_name: str = "Asia/Shanghai",
) -> tuple[Tenant, User]:
    """A new decoration company and its first admin (who is also a manager)."""
    if Tenant.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": _("租户标识 %(slug)s 已存在。") % {"slug": slug}})
    if User.objects.filter(username=admin_username).exists():
        raise ValidationError(
            {"admin_username": _("用户名 %(username)s 已存在。") % {"username": admin_username}}
        )
    tenant = Tenant(name=name, slug=slug, timezone=timezone_name)
    tenant.full_clean()
    tenant.save()
    admin = staff_user_create(
        tenant=tenant,
        username=admin_username,
        password=admin_password,
        email=admin_email,
        roles=[Role.ADMIN, Role.MANAGER],
        display_name=admin_username,
    )
    return tenant, admin


def staff_user_create(
    *,
    tenant: Tenant,
    username: str,
    password: str,
    roles: list[str],
    display_name: str = "",
    email: str = "",
    mobile: str = "",
) -> User:
    user = User(
        tenant=tenant,
        username=username,
        email=email,
        display_name=display_name,
        mobile=mobile,
        roles=list(roles),
        is_staff=Role.ADMIN in roles,
    )
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


def _scope_names(scopes: list[str]) -> str:
    return _("、").join(str(TOKEN_SCOPE_LABELS.get(scope, scope)) for scope in scopes)


def api_token_create(
    *,
    tenant: Tenant,
    created_by: User,
    name: str,
    user: User | None = None,
    scopes: Iterable[str] | None = None,
    via_token: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """Create a token acting as ``user`` (default: the creator). Returns the plaintext, once.

    A token never carries more rights than its creator: ``user`` may hold no permission the
    creator lacks (a manager can't mint an admin's token), ``scopes`` (default: the widest the
    user may hold) can't exceed what ``user``'s roles allow, and a token minted through another
    token (``via_token``) can't exceed that token's scopes.
    """
    require_permission(created_by, "crm.manage_tokens")
    user = user or created_by
    if user.tenant_id != tenant.pk or not user.is_active:
        raise ValidationError({"user": ValidationError(_("员工不存在。"), code="does_not_exist")})
    if not name.strip():
        raise ValidationError({"name": ValidationError(_("请填写令牌名称。"), code="required")})
    if not permissions_of(user) <= permissions_of(created_by):
        raise ValidationError(
            {"user": ValidationError(_("不能为权限高于您的员工创建令牌。"), code="exceeds_creator")}
        )
    user_ceiling = token_scopes_for(user)
    try:
        chosen = normalise_token_scopes(list(scopes) if scopes is not None else user_ceiling)
    except ValidationError as error:
        raise ValidationError({"scopes": error}) from error
    if not chosen:
        raise ValidationError({"scopes": ValidationError(_("请至少选择一项权限范围。"), code="required")})
    beyond_user = scopes_within(chosen, user_ceiling)
    if beyond_user:
        raise ValidationError(
            {
                "scopes": ValidationError(
                    _("该员工的角色没有这些权限：%(scopes)s"),
                    params={"scopes": _scope_names(beyond_user)},
                    code="exceeds_user",
                )
            }
        )
    if via_token is not None:
        beyond_token = scopes_within(chosen, via_token.scopes or [])
        if beyond_token:
            raise ValidationError(
                {
                    "scopes": ValidationError(
                        _("超出当前令牌的权限范围：%(scopes)s"),
                        params={"scopes": _scope_names(beyond_token)},
                        code="exceeds_token",
                    )
                }
            )
    plaintext, prefix = ApiToken.generate()
    token = ApiToken.objects.create(
        tenant=tenant,
        name=name.strip(),
        user=user,
        prefix=prefix,
        key_hash=hash_token(plaintext),
        created_by=created_by,
        scopes=chosen,
    )
    return token, plaintext


def api_token_revoke(*, tenant: Tenant, token: ApiToken, revoked_by: User) -> ApiToken:
    require_permission(revoked_by, "crm.manage_tokens")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
