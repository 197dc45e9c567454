"""Forms of the quotation pages (bounded like every form: ``crm.forms``)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms import Form
from crm.money import YuanFormField
from quotes.models import CatalogueItem, DiscountKind, ItemCategory, LineKind, Package


class CatalogueItemForm(Form):
    name = forms.CharField(label=_("名称"), max_length=100)
    spec = forms.CharField(label=_("规格"), max_length=100, required=False)
    unit = forms.CharField(label=_("单位"), max_length=20)
    unit_price_fen = YuanFormField(label=_("单价（元）"))
    category = forms.ChoiceField(label=_("类别"), choices=ItemCategory.choices)
    active = forms.BooleanField(label=_("启用"), required=False, initial=True)


class PackageForm(Form):
    name = forms.CharField(label=_("套餐名称"), max_length=100)
    price_per_sqm_fen = YuanFormField(label=_("每平方米单价（元）"))
    includes = forms.CharField(label=_("包含内容"), max_length=2000, required=False, widget=forms.Textarea)
    items = forms.ModelMultipleChoiceField(
        label=_("包含项目"), queryset=CatalogueItem.objects.none(), required=False
    )
    active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["items"].queryset = CatalogueItem.objects.filter(active=True)  # type: ignore[attr-defined]


class ImportForm(Form):
    file = forms.FileField(label=_("Excel 文件（.xlsx）"))


class QuotationForm(Form):
    title = forms.CharField(label=_("标题"), max_length=100)
    project = forms.TypedChoiceField(label=_("项目"), required=False, coerce=int, empty_value=None)
    area_sqm = forms.DecimalField(
        label=_("面积（㎡）"), max_digits=8, decimal_places=2, required=False, min_value=0.01
    )
    note = forms.CharField(label=_("备注"), max_length=500, required=False)

    def __init__(self, *args, projects=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", _("（不关联项目）")), *[(p.pk, p.name) for p in projects]]  # type: ignore[attr-defined]


class LineForm(Form):
    kind = forms.ChoiceField(label=_("类型"), choices=LineKind.choices)
    catalogue_item = forms.ModelChoiceField(
        label=_("目录项目"), queryset=CatalogueItem.objects.none(), required=False
    )
    package = forms.ModelChoiceField(label=_("套餐"), queryset=Package.objects.none(), required=False)
    name = forms.CharField(label=_("名称"), max_length=100, required=False)
    spec = forms.CharField(label=_("规格"), max_length=100, required=False)
    unit = forms.CharField(label=_("单位"), max_length=20, required=False)
    category = forms.ChoiceField(label=_("类别"), choices=[("", "—"), *ItemCategory.choices], required=False)
    unit_price_fen = YuanFormField(label=_("单价（元）"), required=False)
    quantity = forms.CharField(
        label=_("数量"), max_length=24, required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["catalogue_item"].queryset = CatalogueItem.objects.filter(active=True)  # type: ignore[attr-defined]
        self.fields["package"].queryset = Package.objects.filter(active=True)  # type: ignore[attr-defined]


class DiscountForm(Form):
    discount_kind = forms.ChoiceField(label=_("折扣方式"), choices=DiscountKind.choices)
    discount_amount_fen = YuanFormField(label=_("折扣金额（元）"), required=False)
    discount_percent = forms.CharField(label=_("折扣比例（%）"), max_length=10, required=False)


class NoteForm(Form):
    note = forms.CharField(label=_("意见"), max_length=300, required=False)


class QuoteSettingsForm(Form):
    threshold_percent = forms.DecimalField(
        label=_("折扣超过小计的百分比时需经理审批"),
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
    )
