from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms import Form, IsoDateInput
from crm.workdays.models import DayKind


class CalendarDayForm(Form):
    date = forms.DateField(label=_("日期"), widget=IsoDateInput())
    kind = forms.ChoiceField(label=_("类型"), choices=DayKind.choices)
    name = forms.CharField(label=_("名称"), max_length=50, required=False)


class CalendarImportForm(Form):
    text = forms.CharField(
        label=_("整年导入（替换该年已有的例外日）"),
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 8, "placeholder": _("2027-02-06~2027-02-12,休,春节")}),
        help_text=_("每行：日期或日期范围（~ 连接）,休/班,名称。以 # 开头的行忽略。"),
    )
