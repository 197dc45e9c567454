from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm import extensions
from crm.api.fields import BOUNDED_FIELD_CLASSES, MoneyField
from crm.models import TOKEN_SCOPE_CHOICES, ApiToken, User
from crm.tenancy import current_tenant


# The base of every model serializer: bounded input fields and an honest output schema. Generated
# fields use the bounded classes of crm.api.fields; read-only fields keep the model's null/blank so
# the OpenAPI schema admits the null and "" they return. (A comment, not a docstring: the schema
# would show a docstring as every subclass's description.)
class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        model_field: BOUNDED_FIELD_CLASSES.get(field_class, field_class)
        for model_field, field_class in serializers.ModelSerializer.serializer_field_mapping.items()
    }

    def build_standard_field(self, field_name, model_field):
        """A model's ``*_fen`` integer column is money: a ``MoneyField`` documented in 分."""
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if field_name.endswith("_fen") and isinstance(model_field, models.IntegerField):
            kwargs.pop("min_value", None)
            kwargs.pop("max_value", None)
            kwargs["signed"] = not isinstance(
                model_field,
                models.PositiveBigIntegerField
                | models.PositiveIntegerField
                | models.PositiveSmallIntegerField,
            )
            field_class = MoneyField
        return field_class, kwargs

    def get_fields(self):
        fields = super().get_fields()
        model: type[models.Model] = self.Meta.model
        for name, field in fields.items():
            source = field.source or name  # fields are bound (and get .source) later
            if not field.read_only or "." in source or source == "*":
                continue
            try:
                model_field = model._meta.get_field(source)
            except FieldDoesNotExist:
                continue
            if getattr(model_field, "null", False):
                field.allow_null = True
            if getattr(model_field, "blank", False) and hasattr(field, "allow_blank"):
                field.allow_blank = True
        return fields


class StaffUserSerializer(ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "display_name", "email", "roles", "is_on_duty"]
        read_only_fields = fields


class TenantStaffField(serializers.PrimaryKeyRelatedField):
    """A staff user of the request's tenant (another tenant's user id is 'does not exist')."""

    def get_queryset(self):
        tenant = current_tenant()
        if tenant is None:  # schema generation: no tenant, no choices (fail closed)
            return User.objects.none()
        return User.objects.filter(tenant=tenant, is_active=True)


@extend_schema_field(OpenApiTypes.INT)
class TenantPKField(serializers.PrimaryKeyRelatedField):
    """A primary key of one of the request tenant's ``model`` rows (another tenant's id is "does not
    exist"). The queryset is built per request from the scoped manager, never at import time; with
    no tenant (schema generation) there are no choices: fail closed. Rows the requesting user may
    not see (the registered row narrowers, e.g. another rep's customer's project) are "does not
    exist" too, so a write cannot pick what a read would not show."""

    def __init__(self, model=None, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        if current_tenant() is None:
            return self.model._default_manager.none()
        queryset = self.model.objects.all()
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            queryset = extensions.narrow_rows_for_user(queryset, user=user)
        return queryset


class ApiTokenSerializer(ModelSerializer):
    user = TenantStaffField(required=False)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=TOKEN_SCOPE_CHOICES),
        allow_empty=False,
        max_length=len(TOKEN_SCOPE_CHOICES),
        help_text=gettext_lazy(
            "权限范围，如 customers:read、projects:write（write 包含 read），不超出员工角色的权限。"
        ),
    )

    class Meta:
        model = ApiToken
        fields = ["id", "name", "user", "scopes", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at", "revoked_at"]


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text=gettext_lazy("明文令牌，仅此一次显示。"))

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
