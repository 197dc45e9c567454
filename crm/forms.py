from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.models import Tenant, TokenAccess, TokenModule, User, token_scope
from crm.selectors import staff_queryset


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
        "invalid_login": "用户名或密码错误。",
        "inactive": "该账号已停用。",
    }


NO_ACCESS = ""
SCOPE_LEVEL_CHOICES = [(NO_ACCESS, _("无")), *TokenAccess.choices]


class ApiTokenForm(forms.Form):
    """Name, acting user and one access level per module (none / read-only / read-write)."""

    name = forms.CharField(label="名称", max_length=100, help_text="例如：官网表单、抖音线索同步")
    user = forms.ModelChoiceField(label="以哪位员工身份调用", queryset=User.objects.none(), required=False)

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = staff_queryset(tenant=tenant)
        for module, label in TokenModule.choices:
            self.fields[f"scope_{module}"] = forms.ChoiceField(
                label=label, choices=SCOPE_LEVEL_CHOICES, required=False, initial=TokenAccess.READ
            )

    @property
    def scope_fields(self) -> list[forms.BoundField]:
        return [self[f"scope_{module}"] for module in TokenModule.values]

    def clean(self):
        cleaned = super().clean()
        scopes = [
            token_scope(module, cleaned[f"scope_{module}"])
            for module in TokenModule.values
            if cleaned.get(f"scope_{module}")
        ]
        if not scopes:
            raise forms.ValidationError(_("请至少为一个模块选择只读或读写。"), code="required")
        cleaned["scopes"] = scopes
        return cleaned
