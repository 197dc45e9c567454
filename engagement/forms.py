"""Browser forms of the engagement pages (rules live in services; forms only parse)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms import Form as BoundedForm
from crm.forms import IsoDateInput
from crm.money import YuanFormField
from customers.models import Lifecycle, Segment, SourceChannel
from engagement.models import (
    ConsentChannel,
    ConsentState,
    ContentItem,
    ContentKind,
    Offer,
    OfferKind,
    PushPeriod,
    PushTrigger,
)
from projects.models import Stage
from quotes.models import Package


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(label=_("渠道"), choices=ConsentChannel.choices)
    state = forms.ChoiceField(label=_("状态"), choices=ConsentState.choices)
    reason = forms.CharField(label=_("原因"), max_length=200, help_text=_("如：客户电话中口头同意接收短信"))


class OptOutForm(forms.Form):
    all_channels = forms.BooleanField(label=_("同时退订所有渠道"), required=False)


class YuanField(YuanFormField):
    """Typed in yuan, cleaned to fen (``crm.money``); left empty it is 0."""

    def to_python(self, value):
        fen = super().to_python(value)
        return 0 if fen is None else fen


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100)
    code = forms.CharField(label=_("活动代码（留资接口用，可选）"), max_length=32, required=False)
    channel = forms.ChoiceField(label=_("渠道"), choices=SourceChannel.choices)
    starts_on = forms.DateField(label=_("开始日期"), widget=IsoDateInput())
    ends_on = forms.DateField(label=_("结束日期"), widget=IsoDateInput())
    budget_fen = YuanField(label=_("预算（元）"), required=False)
    spend_fen = YuanField(label=_("实际花费（元）"), required=False)
    target_segment = forms.ModelChoiceField(
        label=_("目标分群"), queryset=Segment.objects.none(), required=False
    )
    description = forms.CharField(label=_("说明"), widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_segment"].queryset = Segment.objects.all()  # scoped to the request's tenant


class OfferForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=OfferKind.choices)
    value_fen = YuanField(label=_("面值（元）"), required=False)
    valid_from = forms.DateField(label=_("有效期自"), widget=IsoDateInput())
    valid_until = forms.DateField(label=_("有效期至"), widget=IsoDateInput())
    quantity = forms.IntegerField(label=_("数量（不限请留空）"), min_value=1, required=False)
    package = forms.ModelChoiceField(
        label=_("套餐（套餐类优惠核销到报价单时加入）"), queryset=Package.objects.none(), required=False
    )
    terms = forms.CharField(label=_("使用条款"), widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["package"].queryset = Package.objects.filter(active=True).order_by("name", "id")


class SignupForm(forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=50)
    phone = forms.CharField(label=_("手机号"), max_length=30)
    email = forms.CharField(
        label=_("邮箱（可选）"), max_length=254, required=False, widget=forms.EmailInput()
    )
    consent = forms.BooleanField(
        label=_("我同意接收本公司的活动和装修内容短信，可随时一键退订"),
        required=True,
        error_messages={"required": _("请勾选同意接收活动信息。")},
    )
    email_consent = forms.BooleanField(
        label=_("我也同意通过邮件接收装修资料和活动信息，可随时一键退订"), required=False
    )


class RedeemForm(forms.Form):
    offer = forms.ModelChoiceField(label=_("优惠"), queryset=Offer.objects.none())
    contract_number = forms.CharField(label=_("报价/合同编号（可选）"), max_length=50, required=False)

    def __init__(self, *args, campaign=None, **kwargs):
        super().__init__(*args, **kwargs)
        if campaign is not None:
            self.fields["offer"].queryset = Offer.objects.filter(campaign=campaign)


# --- content library and push rules (bounded form base) -------------------------------------------


def _split_tags(text: str) -> list[str]:
    parts = (part.strip() for part in text.replace("，", ",").split(","))
    return [part[:30] for part in parts if part][:20]


class ContentItemForm(BoundedForm):
    title = forms.CharField(label=_("标题"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=ContentKind.choices)
    summary = forms.CharField(label=_("摘要"), max_length=300, required=False)
    url = forms.URLField(label=_("链接"), max_length=200, required=False, assume_scheme="https")
    tags = forms.CharField(
        label=_("标签（逗号分隔）"), max_length=300, required=False, help_text=_("如：儿童房, 环保材料")
    )

    def clean_tags(self) -> list[str]:
        return _split_tags(self.cleaned_data.get("tags") or "")


class PushRuleForm(BoundedForm):
    name = forms.CharField(label=_("名称"), max_length=100)
    item = forms.ModelChoiceField(label=_("内容"), queryset=ContentItem.objects.none(), required=False)
    channel = forms.ChoiceField(
        label=_("渠道"),
        choices=[
            (c.value, c.label) for c in (ConsentChannel.WECHAT, ConsentChannel.SMS, ConsentChannel.EMAIL)
        ],
    )
    trigger = forms.ChoiceField(label=_("触发方式"), choices=PushTrigger.choices)
    trigger_tag = forms.CharField(label=_("触发标签"), max_length=30, required=False)
    trigger_stage = forms.ChoiceField(
        label=_("触发阶段"), choices=[("", "—"), *Stage.choices], required=False
    )
    segment = forms.ModelChoiceField(label=_("分群"), queryset=Segment.objects.none(), required=False)
    audience_tags = forms.CharField(label=_("客户标签（任一，逗号分隔）"), max_length=300, required=False)
    audience_lifecycles = forms.MultipleChoiceField(
        label=_("生命周期（任一）"), choices=Lifecycle.choices, required=False
    )
    period = forms.ChoiceField(label=_("频率"), choices=PushPeriod.choices)
    max_per_customer_per_week = forms.IntegerField(
        label=_("每位客户每周最多推送"), min_value=1, max_value=50, initial=2
    )
    quiet_start = forms.TimeField(label=_("免打扰开始"), initial="21:00")
    quiet_end = forms.TimeField(label=_("免打扰结束"), initial="09:00")
    control_percent = forms.IntegerField(label=_("对照组比例（%）"), min_value=0, max_value=90, initial=10)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Scoped to the request's tenant by the default manager.
        self.fields["item"].queryset = ContentItem.objects.all()
        self.fields["segment"].queryset = Segment.objects.all()

    def clean_audience_tags(self) -> list[str]:
        return _split_tags(self.cleaned_data.get("audience_tags") or "")
