"""Browser forms of the engagement pages (rules live in services; forms only parse)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from engagement.models import ConsentChannel, ConsentState


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(label=_("渠道"), choices=ConsentChannel.choices)
    state = forms.ChoiceField(label=_("状态"), choices=ConsentState.choices)
    reason = forms.CharField(label=_("原因"), max_length=200, help_text=_("如：客户电话中口头同意接收短信"))


class OptOutForm(forms.Form):
    all_channels = forms.BooleanField(label=_("同时退订所有渠道"), required=False)
