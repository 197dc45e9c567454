from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from crm.models import Tenant, TokenAccess, TokenModule, User, token_scope
from crm.selectors import staff_queryset
from crm.uploads import IMAGE_ACCEPT, MultipleImageInput
from crm.validators import (
    BIGINT_MAX,
    validate_date_range,
    validate_datetime,
    validate_no_control_characters,
)


def bound_form_field(field: forms.Field) -> None:
    """Give a form field the same bounds the API has (see ``crm.api.fields``)."""
    extra: list = []
    if isinstance(field, forms.CharField):
        extra.append(validate_no_control_characters)
    elif isinstance(field, forms.IntegerField):  # also DecimalField and FloatField
        if field.max_value is None:
            field.max_value = BIGINT_MAX
            extra.append(MaxValueValidator(BIGINT_MAX))
        if field.min_value is None:
            field.min_value = -BIGINT_MAX - 1
            extra.append(MinValueValidator(-BIGINT_MAX - 1))
    elif isinstance(field, forms.DateTimeField):
        extra.append(validate_datetime)
    elif isinstance(field, forms.DateField):
        extra.append(validate_date_range)
    field.validators.extend(v for v in extra if v not in field.validators)


class BoundedFieldsMixin:
    """Every form of the CRM: text without control characters, integers and dates within range."""

    if TYPE_CHECKING:  # provided by the Django form this is mixed into
        fields: dict[str, forms.Field]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model = getattr(getattr(self, "_meta", None), "model", None)
        for name, field in self.fields.items():
            if model is not None and isinstance(field, forms.IntegerField):
                # A declared field over a model column gets the column's range (e.g. int4).
                try:
                    column_validators = model._meta.get_field(name).validators
                except FieldDoesNotExist:
                    column_validators = []
                field.validators.extend(v for v in column_validators if v not in field.validators)
            bound_form_field(field)


class Form(BoundedFieldsMixin, forms.Form):
    pass


class ModelForm(BoundedFieldsMixin, forms.ModelForm):
    pass


def apply_service_errors(
    form: forms.Form, error: ValidationError, field_map: dict[str, str] | None = None
) -> None:
    """Show a service's ``ValidationError`` on the form: each message (with its code) on the field
    it names, renamed through ``field_map`` where the form calls the field differently, and on the
    form as a whole where the form has no such field."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    field_map = field_map or {}
    for field, errors in error.error_dict.items():
        target = field_map.get(field, field)
        form.add_error(target if target in form.fields else None, errors)


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("用户名或密码错误。"),
        "inactive": _("该账号已停用。"),
        "tenant_inactive": _("所属公司的账号已停用，请联系平台管理员。"),
    }

    def confirm_login_allowed(self, user):
        """A deactivated company's staff cannot sign in (the middleware signs out open sessions)."""
        super().confirm_login_allowed(user)
        if user.tenant_id is not None and not (user.tenant and user.tenant.is_active):
            raise forms.ValidationError(self.error_messages["tenant_inactive"], code="tenant_inactive")


class IsoDateInput(forms.DateInput):
    """``<input type="date">`` with an ISO value whatever the language (the picker takes nothing else)."""

    input_type = "date"

    def __init__(self, attrs=None, format=None):
        super().__init__(attrs, format=format or "%Y-%m-%d")


class IsoDateTimeInput(forms.DateTimeInput):
    """``<input type="datetime-local">`` with an ISO ``YYYY-MM-DDTHH:MM`` value."""

    input_type = "datetime-local"

    def __init__(self, attrs=None, format=None):
        super().__init__(attrs, format=format or "%Y-%m-%dT%H:%M")


def camera_photos_widget() -> forms.ClearableFileInput:
    """Site photos: several at once, the phone opens its rear camera (``capture``); crm.js scales
    big photos down in the browser before upload."""
    return MultipleImageInput(attrs={"multiple": True, "accept": IMAGE_ACCEPT, "capture": "environment"})


NO_ACCESS = ""
SCOPE_LEVEL_CHOICES = [(NO_ACCESS, _("无")), *TokenAccess.choices]


class ApiTokenForm(Form):
    """Name, acting user and one access level per module (none / read-only / read-write)."""

    name = forms.CharField(label=_("名称"), max_length=100, help_text=_("例如：官网表单、抖音线索同步"))
    user = forms.ModelChoiceField(label=_("以哪位员工身份调用"), queryset=User.objects.none(), required=False)

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["user"]).queryset = staff_queryset(tenant=tenant)
        for module, label in TokenModule.choices:
            self.fields[f"scope_{module}"] = forms.ChoiceField(
                label=label, choices=SCOPE_LEVEL_CHOICES, required=False, initial=TokenAccess.READ
            )

    @property
    def scope_fields(self) -> list[forms.BoundField]:
        return [self[f"scope_{module}"] for module in TokenModule.values]

    def clean(self):
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        scopes = [
            token_scope(module, cleaned[f"scope_{module}"])
            for module in TokenModule.values
            if cleaned.get(f"scope_{module}")
        ]
        if not scopes:
            raise forms.ValidationError(_("请至少为一个模块选择只读或读写。"), code="required")
        cleaned["scopes"] = scopes
        return cleaned
