"""Browser forms. Amounts are typed in yuan (two decimals); ``YuanFormField`` cleans them to integer fen."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms import Form
from crm.money import YuanFormField
from projects.models import Project
from referrals.models import CreditRuleKind, RedemptionTarget


class RedemptionForm(Form):
    amount_yuan = YuanFormField(label=_("抵扣金额（元）"))
    target = forms.ChoiceField(label=_("抵扣用途"), choices=RedemptionTarget.choices)
    description = forms.CharField(
        label=_("抵扣内容"), max_length=200, help_text=_("写明抵扣了什么，如：客厅窗帘、冰箱、二期增项单号")
    )
    project = forms.ModelChoiceField(
        label=_("关联项目（可选）"), queryset=Project.objects.none(), required=False
    )
    client_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=60)

    def __init__(self, *args, customer_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if customer_id is not None:
            self.fields["project"].queryset = Project.objects.filter(customer_id=customer_id)
        if not self.is_bound:
            self.initial.setdefault("client_key", uuid.uuid4().hex)  # a double-submit spends once

    @property
    def amount_fen(self) -> int:
        return self.cleaned_data["amount_yuan"]  # typed in yuan, cleaned to fen


class AdjustmentForm(Form):
    amount_yuan = YuanFormField(label=_("调整金额（元，负数为扣减）"), allow_negative=True)
    reason = forms.CharField(label=_("原因"), max_length=200)
    client_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=60)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("client_key", uuid.uuid4().hex)

    def clean_amount_yuan(self) -> int:
        value = self.cleaned_data["amount_yuan"]
        if value == 0:
            raise forms.ValidationError(_("调整金额不能为 0。"))
        return value

    def clean_reason(self) -> str:
        value = self.cleaned_data["reason"].strip()
        if not value:
            raise forms.ValidationError(_("人工调整必须填写原因。"))
        return value

    @property
    def amount_fen(self) -> int:
        return self.cleaned_data["amount_yuan"]  # typed in yuan, cleaned to fen


class VipDecisionForm(Form):
    keep = forms.TypedChoiceField(
        label=_("决定"),
        choices=[("1", _("保留 VIP")), ("0", _("取消 VIP"))],
        coerce=lambda value: value == "1",
    )
    reason = forms.CharField(label=_("原因"), max_length=200)


class LinkReferrerForm(Form):
    code = forms.CharField(
        label=_("推荐人的推荐码或手机号"),
        max_length=30,
        widget=forms.TextInput(attrs={"placeholder": _("如 7KQ2M9XA")}),
    )
    note = forms.CharField(label=_("备注"), max_length=200, required=False)


class ReferralSettingsForm(Form):
    rule_kind = forms.ChoiceField(label=_("奖励规则"), choices=CreditRuleKind.choices)
    fixed_amount_yuan = YuanFormField(label=_("固定奖励（元/单）"), required=False)
    percentage = forms.DecimalField(
        label=_("合同金额比例（%）"), max_digits=5, decimal_places=2, min_value=Decimal("0"), required=False
    )
    cap_yuan = YuanFormField(label=_("单笔上限（元，可空）"), required=False)
    vip_threshold = forms.IntegerField(label=_("成为 VIP 所需成功转介绍数"), min_value=1, max_value=100)
    vip_title = forms.CharField(label=_("VIP 称号"), max_length=30)


class JoinForm(Form):
    """Public landing page: the friend leaves a name and phone; a lead is created with the code."""

    name = forms.CharField(label=_("您的称呼"), max_length=50)
    phone = forms.CharField(label=_("手机号"), max_length=20)
    community = forms.CharField(label=_("小区名称"), max_length=100, required=False)
    note = forms.CharField(
        label=_("装修需求（可选）"), max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    website = forms.CharField(required=False, widget=forms.HiddenInput)  # honeypot: bots fill it

    def clean_phone(self) -> str:
        digits = "".join(ch for ch in self.cleaned_data["phone"] if ch.isdigit())
        if digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        if len(digits) != 11 or not digits.startswith("1"):
            raise forms.ValidationError(_("请输入 11 位手机号。"))
        return digits
