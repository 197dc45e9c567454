"""Platform tables: tenants (decoration companies), staff users with roles, API tokens."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from crm.hashed_secrets import hash_secret, issue_secret
from crm.tenancy import TenantOwnedModel


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("未知时区：%(tz)s"), params={"tz": value})


class Tenant(models.Model):
    """A decoration company. Global table: every tenant-owned row points here."""

    name = models.CharField(_("公司名称"), max_length=100)
    slug = models.SlugField(_("标识"), max_length=50, unique=True)
    timezone = models.CharField(
        _("时区"), max_length=64, default="Asia/Shanghai", validators=[validate_timezone]
    )
    lead_response_sla_minutes = models.PositiveIntegerField(_("线索首次响应时限（分钟）"), default=15)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("租户（装修公司）")
        verbose_name_plural = _("租户（装修公司）")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def zoneinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Role(models.TextChoices):
    SALES = "sales", _("销售")
    DESIGNER = "designer", _("设计师")
    PROJECT_MANAGER = "project_manager", _("项目经理")
    SUPERVISOR = "supervisor", _("监理")
    SERVICE = "service", _("客服/售后")
    MANAGER = "manager", _("经理")
    FINANCE = "finance", _("财务")
    ADMIN = "admin", _("管理员")


def validate_roles(value: list) -> None:
    if not isinstance(value, list) or any(role not in Role.values for role in value):
        raise ValidationError(_("角色必须是以下之一：%(roles)s"), params={"roles": ", ".join(Role.values)})


class User(AbstractUser):
    """A staff user of one tenant. Platform operators (superusers) have no tenant.

    Global table (login looks users up before a tenant is known); every query for a tenant's
    staff goes through :func:`crm.selectors.staff_of_tenant`.
    """

    api_sync_fields = ("date_joined", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="users", verbose_name=_("租户")
    )
    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    mobile = models.CharField(_("手机号"), max_length=20, blank=True)
    roles = models.JSONField(_("角色"), default=list, blank=True, validators=[validate_roles])
    is_on_duty = models.BooleanField(_("值班中"), default=True, help_text=_("值班中的销售参与新线索轮流分配"))
    team = models.CharField(
        _("团队"), max_length=50, blank=True, help_text=_("同一团队的组长可查看组员的客户")
    )
    is_team_lead = models.BooleanField(_("团队组长"), default=False)

    class Meta:
        verbose_name = _("员工")
        verbose_name_plural = _("员工")
        indexes = [
            models.Index(fields=["tenant", "is_active"], name="crm_user_tenant_active_idx"),
            models.Index(fields=["tenant", "updated_at", "id"], name="crm_user_tenant_updated_idx"),
            models.Index(fields=["tenant", "date_joined", "id"], name="crm_user_tenant_joined_idx"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    def has_role(self, *roles: str) -> bool:
        return any(role in (self.roles or []) for role in roles)

    @property
    def role_labels(self) -> list[str]:
        return [str(Role(role).label) for role in self.roles or [] if role in Role.values]


TOKEN_PREFIX = "crm"


class TokenModule(models.TextChoices):
    """What a token's scope is granted on: one per domain area (see ``crm.api.permissions``)."""

    CUSTOMERS = "customers", _("客户与线索")
    PROJECTS = "projects", _("项目")
    AFTERCARE = "aftercare", _("售后")
    REFERRALS = "referrals", _("转介绍")
    NOTIFICATIONS = "notifications", _("通知")
    SETTINGS = "settings", _("设置（员工、API 令牌）")
    INTEGRATIONS = "integrations", _("集成（事件流、Webhook）")
    ANALYTICS = "analytics", _("经营分析与目标")
    ENGAGEMENT = "engagement", _("营销（活动、内容、授权、线索评分）")
    SALES = "sales", _("销售日程（预约、待办）")
    QUOTES = "quotes", _("报价（价目表、报价单）")
    PAYMENTS = "payments", _("回款（收款计划、收款）")


class TokenAccess(models.TextChoices):
    """``write`` includes ``read``: a read-write token may also list and fetch."""

    READ = "read", _("只读")
    WRITE = "write", _("读写")


def token_scope(module: str, access: str) -> str:
    return f"{module}:{access}"


TOKEN_SCOPE_CHOICES = [
    (token_scope(module, access), format_lazy(_("{}：{}"), module_label, access_label))
    for module, module_label in TokenModule.choices
    for access, access_label in TokenAccess.choices
]
TOKEN_SCOPE_LABELS = dict(TOKEN_SCOPE_CHOICES)


def all_token_scopes() -> list[str]:
    """Read-write on every module: what a token meant before scopes existed (legacy rows)."""
    return [token_scope(module, TokenAccess.WRITE) for module in TokenModule.values]


def normalise_token_scopes(scopes) -> list[str]:
    """One entry per module (``write`` wins over ``read``), in module order; unknown entries raise."""
    if isinstance(scopes, str) or not isinstance(scopes, list | tuple | set | frozenset):
        raise ValidationError(_("权限范围必须是列表。"), code="invalid")
    unknown = [scope for scope in scopes if scope not in TOKEN_SCOPE_LABELS]
    if unknown:
        raise ValidationError(
            _("未知的权限范围：%(scopes)s"), params={"scopes": ", ".join(map(str, unknown))}, code="invalid"
        )
    chosen = set(scopes)
    normalised = []
    for module in TokenModule.values:
        if token_scope(module, TokenAccess.WRITE) in chosen:
            normalised.append(token_scope(module, TokenAccess.WRITE))
        elif token_scope(module, TokenAccess.READ) in chosen:
            normalised.append(token_scope(module, TokenAccess.READ))
    return normalised


def scopes_allow(scopes: list[str], module: str, *, write: bool) -> bool:
    if token_scope(module, TokenAccess.WRITE) in scopes:
        return True
    return not write and token_scope(module, TokenAccess.READ) in scopes


hash_token = hash_secret  # the name callers and tests know; one implementation in crm.hashed_secrets


class ApiToken(TenantOwnedModel):
    """An integration's key. Only the SHA-256 is stored; the plaintext is shown once at creation.

    Requests made with it act as ``user``, and only within ``scopes``: a request is allowed when
    both the user's roles and the token's scope for the endpoint's module allow it.
    """

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    name = models.CharField(_("名称"), max_length=100)
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("所属员工")
    )
    prefix = models.CharField(_("前缀"), max_length=16)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("创建人")
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    scopes = models.JSONField(
        _("权限范围"),
        default=all_token_scopes,
        help_text=_("例如 customers:read、projects:write；write 包含 read。"),
    )

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "created_at"], name="crm_apitoken_tenant_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, module: str, *, write: bool) -> bool:
        return scopes_allow(self.scopes or [], module, write=write)

    @property
    def scope_labels(self) -> list[str]:
        return [str(TOKEN_SCOPE_LABELS.get(scope, scope)) for scope in self.scopes or []]

    @staticmethod
    def generate() -> tuple[str, str]:
        """Return ``(plaintext, prefix)`` for a new token."""
        issued = issue_secret(TOKEN_PREFIX)
        return issued.plaintext, issued.prefix

    def mark_used(self) -> bool:
        """Record use at most once a minute; ``True`` when it wrote."""
        now = timezone.now()
        if self.last_used_at is None or (now - self.last_used_at).total_seconds() > 60:
            type(self).objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now
            return True
        return False
