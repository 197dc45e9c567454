from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from crm.models import Tenant, TokenAccess, TokenModule, User, token_scope
from crm.selectors import staff_queryset
from crm.uploads import IMAGE_ACCEPT, MultipleImageInput


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "用户名或密码错误。",
        "inactive": "该账号已停用。",
    }


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
