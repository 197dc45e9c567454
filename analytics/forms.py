"""The managers' monthly targets and channel-spend form: one row per sales user, the team, and one
field per channel. Built per tenant (its sales users), validated by Django, saved by a service."""

from __future__ import annotations

import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from analytics.models import ChannelSpend, SalesTarget
from crm.forms import BoundedFieldsMixin
from crm.money import YuanFormField
from crm.validators import INT_MAX
from customers.models import SourceChannel

TARGET_FIELDS = (
    ("contract_value_fen", _("签约额目标（元）")),  # typed in yuan, cleaned to fen
    ("signed_count", _("签约单数目标")),
    ("new_customers", _("新客户目标")),
)
# Counts are int4 columns, amounts bigint: each field stops at its column's range (no DataError).
FIELD_MAX = {"signed_count": INT_MAX, "new_customers": INT_MAX}
MONEY_FIELDS = {"contract_value_fen"}  # typed in yuan (YuanFormField), stored in fen


class MonthField(forms.DateField):
    """``YYYY-MM`` (the browser's ``<input type="month">``) → the month's first day."""

    input_formats = ["%Y-%m", "%Y-%m-%d"]

    def to_python(self, value):
        day = super().to_python(value)
        return day.replace(day=1) if day else day


class MonthPickForm(BoundedFieldsMixin, forms.Form):
    month = MonthField(label=_("月份"), widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"))


def _row_key(user) -> str:
    return str(user.pk) if user is not None else "team"


class MonthlyPlanForm(BoundedFieldsMixin, forms.Form):
    def __init__(self, *args, month: datetime.date, sales_users: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.month = month
        self.sales_users = sales_users
        targets = {target.user_id: target for target in SalesTarget.objects.filter(month=month)}
        spend = dict(ChannelSpend.objects.filter(month=month).values_list("channel", "amount_fen"))
        self.target_rows = []
        for user in [None, *sales_users]:
            target = targets.get(user.pk if user else None)
            names = []
            for field, label in TARGET_FIELDS:
                name = f"target-{_row_key(user)}-{field}"
                initial = getattr(target, field) if target else None
                if field in MONEY_FIELDS:
                    self.fields[name] = YuanFormField(label=label, required=False, initial=initial)
                else:
                    self.fields[name] = forms.IntegerField(
                        label=label, min_value=0, max_value=FIELD_MAX[field], required=False, initial=initial
                    )
                names.append(name)
            label = (user.display_name or user.username) if user else _("团队")
            self.target_rows.append((label, [self[name] for name in names]))
        self.spend_fields = []
        for channel, label in SourceChannel.choices:
            name = f"spend-{channel}"
            self.fields[name] = YuanFormField(label=label, required=False, initial=spend.get(channel))
            self.spend_fields.append(self[name])

    def targets(self) -> dict:
        data = self.cleaned_data
        return {
            user: {field: data.get(f"target-{_row_key(user)}-{field}") or 0 for field, _l in TARGET_FIELDS}
            for user in [None, *self.sales_users]
        }

    def spend(self) -> dict[str, int | None]:
        return {channel: self.cleaned_data.get(f"spend-{channel}") for channel in SourceChannel.values}
