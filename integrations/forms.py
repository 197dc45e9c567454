"""Browser forms of integrations; shape only, the rules (safe URL, known event types) are in services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.events.types import EVENT_TYPES
from crm.forms import BoundedFieldsMixin

EVENT_TYPE_CHOICES = [(name, f"{name} — {spec.description}") for name, spec in EVENT_TYPES.items()]


class WebhookEndpointForm(BoundedFieldsMixin, forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100, required=False)
    url = forms.CharField(
        label=_("接收地址"),
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/crm-webhook"}),
        help_text=_("只允许公网的 http:// 或 https:// 地址；每次发送时都会重新检查。"),
    )
    event_types = forms.MultipleChoiceField(
        label=_("事件类型"), choices=EVENT_TYPE_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)


class RobotEventRouteForm(BoundedFieldsMixin, forms.Form):
    event_types = forms.MultipleChoiceField(
        label=_("推送到群机器人的事件类型"),
        choices=EVENT_TYPE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
