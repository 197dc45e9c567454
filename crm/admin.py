"""Django admin. Tenant staff (role admin) see only their tenant; platform superusers manage tenants.

Every app registers its tenant-owned models with :class:`TenantScopedAdmin`.
"""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import models

from crm.models import ApiToken, Tenant, User
from crm.tenancy import current_tenant, require_tenant, tenant_owned_models
from crm.uploads import validate_document_file, validate_image_file


class TenantScopedAdmin(admin.ModelAdmin):
    """Querysets and FK choices come from the current tenant; the tenant is assigned on save."""

    exclude: ClassVar[tuple[str, ...]] = ("tenant",)

    def has_module_permission(self, request) -> bool:
        return current_tenant() is not None and super().has_module_permission(request)

    def _tenant_active(self) -> bool:
        return current_tenant() is not None

    def has_view_permission(self, request, obj=None) -> bool:
        return self._tenant_active() and request.user.has_role("admin")

    def has_change_permission(self, request, obj=None) -> bool:
        return self._tenant_active() and request.user.has_role("admin")

    def has_add_permission(self, request) -> bool:
        return self._tenant_active() and request.user.has_role("admin")

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._tenant_active() and request.user.has_role("admin")

    def get_queryset(self, request):
        return self.model.objects.all()  # tenant-scoped manager

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        """Uploads through the admin pass the same checks as everywhere else (crm/uploads.py)."""
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(db_field, models.FileField) and formfield is not None:
            image = isinstance(db_field, models.ImageField)
            formfield.validators.append(validate_image_file if image else validate_document_file)
        return formfield

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is User:
            kwargs["queryset"] = User.objects.filter(tenant=require_tenant())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.related_model is User:
            kwargs["queryset"] = User.objects.filter(tenant=require_tenant())
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.tenant = require_tenant()
        super().save_model(request, obj, form, change)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "timezone", "lead_response_sla_minutes", "is_active")
    prepopulated_fields = {"slug": ("name",)}

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.none()


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "tenant", "roles", "is_active", "is_on_duty")
    list_filter = ("is_active", "is_on_duty")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        (
            "CRM",
            {"fields": ("tenant", "display_name", "mobile", "roles", "is_on_duty", "team", "is_team_lead")},
        ),
    )

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.has_role("admin")

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    has_change_permission = has_view_permission

    def has_add_permission(self, request) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(tenant_id=request.user.tenant_id)

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return ()
        return ("tenant", "is_superuser", "user_permissions", "groups", "last_login", "date_joined")

    def save_model(self, request, obj, form, change) -> None:
        if not request.user.is_superuser:
            obj.tenant_id = request.user.tenant_id
            obj.is_superuser = False
        super().save_model(request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(TenantScopedAdmin):
    list_display = ("name", "prefix", "user", "scopes", "created_at", "last_used_at", "revoked_at")
    # Scopes and the acting user are checked by crm.services.api_token_create; never widened here.
    readonly_fields = ("prefix", "created_at", "last_used_at", "created_by", "user", "scopes")

    def has_add_permission(self, request) -> bool:
        return False  # created through the token page so the plaintext is shown once


def unregistered_tenant_models() -> list:
    return [model for model in tenant_owned_models() if model not in admin.site._registry]
