from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms import Form, IsoDateInput
from crm.money import YuanFormField
from payments.models import PaymentMethod


class ReceiptForm(Form):
    amount_fen = YuanFormField(label=_("金额（元）"))
    method = forms.ChoiceField(label=_("方式"), choices=PaymentMethod.choices)
    received_on = forms.DateField(label=_("收款日期"), widget=IsoDateInput())
    receipt_number = forms.CharField(label=_("收据号"), max_length=40, required=False)
    milestone = forms.TypedChoiceField(label=_("优先抵哪一期"), coerce=int, required=False, empty_value=None)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, milestones=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["milestone"].choices = [("", _("按顺序"))] + [(m.pk, m.name) for m in milestones]


class VoidForm(Form):
    reason = forms.CharField(label=_("作废原因"), max_length=200)


class TemplateStepForm(Form):
    name = forms.CharField(label=_("名称"), max_length=40, required=False)
    share_percent = forms.DecimalField(
        label=_("比例（%）"), min_value=0, max_value=100, decimal_places=2, required=False
    )
    trigger = forms.ChoiceField(label=_("触发"), required=False)
    due_days = forms.IntegerField(
        label=_("几天内付清"), min_value=0, max_value=365, required=False, initial=7
    )

    def __init__(self, *args, triggers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trigger"].choices = list(triggers)


TemplateStepFormSet = forms.formset_factory(TemplateStepForm, extra=0, max_num=12, absolute_max=12)
