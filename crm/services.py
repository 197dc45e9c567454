"""Platform writes: tenants, staff users, API tokens.

Tenant-scoped services run inside the caller's tenant context (request, task or test)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm.models import ApiToken, Role, Tenant, User, hash_token
from crm.permissions import require_permission


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
        raise ValidationError({"slug": f"租户标识 {slug} 已存在。"})
    if User.objects.filter(username=admin_username).exists():
        raise ValidationError({"admin_username": f"用户名 {admin_username} 已存在。"})
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


def api_token_create(
    *, tenant: Tenant, created_by: User, name: str, user: User | None = None
) -> tuple[ApiToken, str]:
    """Create a token acting as ``user`` (default: the creator). Returns the plaintext, once."""
    require_permission(created_by, "crm.manage_tokens")
    user = user or created_by
    if user.tenant_id != tenant.pk:
        raise ValidationError({"user": "员工不存在。"})
    if not name.strip():
        raise ValidationError({"name": "请填写令牌名称。"})
    plaintext, prefix = ApiToken.generate()
    token = ApiToken.objects.create(
        tenant=tenant,
        name=name.strip(),
        user=user,
        prefix=prefix,
        key_hash=hash_token(plaintext),
        created_by=created_by,
    )
    return token, plaintext


def api_token_revoke(*, tenant: Tenant, token: ApiToken, revoked_by: User) -> ApiToken:
    require_permission(revoked_by, "crm.manage_tokens")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
