from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from crm.models import Tenant, User
from crm.selectors import staff_queryset


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "用户名或密码错误。",
        "inactive": "该账号已停用。",
    }


class ApiTokenForm(forms.Form):
    name = forms.CharField(label="名称", max_length=100, help_text="例如：官网表单、抖音线索同步")
    user = forms.ModelChoiceField(label="以哪位员工身份调用", queryset=User.objects.none(), required=False)

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = staff_queryset(tenant=tenant)
