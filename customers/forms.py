"""Browser forms. Writes go through customers.services; service errors land on the form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms import Form, IsoDateTimeInput, ModelForm
from crm.money import YuanFormField
from crm.selectors import staff_queryset
from crm.tenancy import require_tenant
from crm.uploads import ImportUploadField
from customers.models import (
    Customer,
    CustomerSettings,
    FollowUpKind,
    FollowUpOutcome,
    FunctionalNeed,
    SourceChannel,
    Style,
)


class CustomerForm(ModelForm):
    style_preferences = forms.MultipleChoiceField(
        label=_("风格偏好"), choices=Style.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    functional_needs = forms.MultipleChoiceField(
        label=_("功能需求"),
        choices=FunctionalNeed.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    tags = forms.CharField(label=_("标签"), required=False, help_text=_("用逗号分隔，如：急装，学区房"))
    phone = forms.CharField(label=_("手机号"), max_length=20)
    budget_fen = YuanFormField(label=_("预算（元）"), required=False)

    class Meta:
        model = Customer
        fields = [
            "name",
            "phone",
            "email",
            "wechat_id",
            "preferred_contact_time",
            "source_channel",
            "customer_type",
            "is_local",
            "community",
            "city",
            "district",
            "address",
            "area_sqm",
            "layout",
            "house_condition",
            "has_children",
            "has_elderly",
            "has_pets",
            "cooking_frequency",
            "works_from_home",
            "style_preferences",
            "functional_needs",
            "budget_fen",
            "intent",
            "lost_reason",
            "owner",
            "designer",
            "tags",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        staff = staff_queryset(tenant=require_tenant())
        self.fields["owner"].queryset = staff  # type: ignore[attr-defined]  # a ModelChoiceField
        self.fields["designer"].queryset = staff  # type: ignore[attr-defined]  # a ModelChoiceField
        if self.instance.pk:
            self.initial["tags"] = _("，").join(self.instance.tags or [])
            self.initial["phone"] = self.instance.phone.removeprefix("+86")

    def clean_tags(self) -> list[str]:
        raw = self.cleaned_data.get("tags") or ""
        return [tag.strip() for tag in raw.replace("，", ",").split(",") if tag.strip()]

    def _post_clean(self):
        """Model validation happens in the service (one place for the rules)."""

    def service_data(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.Meta.fields}


class FollowUpForm(Form):
    kind = forms.ChoiceField(label=_("方式"), choices=FollowUpKind.choices)
    outcome = forms.ChoiceField(
        label=_("结果"), choices=[("", "—"), *FollowUpOutcome.choices], required=False
    )
    content = forms.CharField(label=_("内容"), widget=forms.Textarea(attrs={"rows": 3}))
    next_follow_up_at = forms.DateTimeField(
        label=_("下次跟进时间"),
        required=False,
        widget=IsoDateTimeInput(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )


class LeadForm(Form):
    name = forms.CharField(label=_("姓名"), max_length=50)
    phone = forms.CharField(label=_("手机号"), max_length=20)
    source_channel = forms.ChoiceField(label=_("来源渠道"), choices=SourceChannel.choices)
    note = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ImportForm(Form):
    file = ImportUploadField(label=_("CSV 或 Excel（.xlsx）文件"))


class SegmentForm(Form):
    name = forms.CharField(label=_("分群名称"), max_length=100)


class CustomerSettingsForm(ModelForm):
    budget_low_below_fen = YuanFormField(label=_("低预算上限（元，不含）"))
    budget_high_from_fen = YuanFormField(label=_("高预算下限（元）"))
    value_high_from_fen = YuanFormField(label=_("高价值下限（元）"))
    business_days = forms.TypedMultipleChoiceField(
        label=_("营业日"),
        coerce=int,
        choices=[
            (0, _("周一")),
            (1, _("周二")),
            (2, _("周三")),
            (3, _("周四")),
            (4, _("周五")),
            (5, _("周六")),
            (6, _("周日")),
        ],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = CustomerSettings
        fields = [
            "business_hours_start",
            "business_hours_end",
            "business_days",
            "pool_after_minutes",
            "pool_after_idle_days",
            "silent_after_days",
            "budget_low_below_fen",
            "budget_high_from_fen",
            "value_high_from_fen",
            "auto_assign",
            "reassign_on_breach",
            "sales_visibility",
        ]
        widgets = {
            "business_hours_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "business_hours_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def clean(self):
        cleaned = super().clean() or {}
        low, high = cleaned.get("budget_low_below_fen"), cleaned.get("budget_high_from_fen")
        if low is not None and high is not None and low > high:
            self.add_error("budget_high_from_fen", _("高预算下限不能低于低预算上限。"))
        start, end = cleaned.get("business_hours_start"), cleaned.get("business_hours_end")
        days = cleaned.get("business_days") or []
        # Equal times mean "always open", which only makes sense with every day (or none) ticked.
        if start and end and (end < start or (end == start and 0 < len(set(days)) < 7)):
            self.add_error("business_hours_end", _("营业结束时间必须晚于开始时间。"))
        return cleaned


class IntakeKeyRotateForm(Form):
    """How long the replaced intake key keeps working: live web forms switch over meanwhile."""

    GRACE_CHOICES = [
        ("0", _("立即失效")),
        ("1", _("1 小时")),
        ("24", _("24 小时")),
        ("72", _("3 天")),
        ("168", _("7 天")),
        ("720", _("30 天")),
    ]
    grace_hours = forms.ChoiceField(label=_("旧密钥宽限期"), choices=GRACE_CHOICES, initial="24")


class MergePickForm(Form):
    """Choose the two customers: the survivor (this page's customer) and the duplicate (id or mobile)."""

    survivor = forms.IntegerField(label=_("保留的客户编号"), min_value=1, max_value=2**31 - 1)
    duplicate = forms.CharField(
        label=_("重复客户（编号或手机号）"),
        max_length=30,
        help_text=_("该客户将被合并、归档并指向保留的客户"),
    )


class MergeFieldsForm(Form):
    """Field by field: keep the survivor's value or take the duplicate's; confirm (money moves too)."""

    confirm = forms.BooleanField(
        label=_(
            "我已核对：重复客户的跟进、线索、项目、售后、转介绍与奖励金余额将全部转到保留的客户，重复客户归档。"
        ),
        required=True,
    )

    def __init__(self, *args, field_names: list[str], initial_sides: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        for name in field_names:
            self.fields[f"choice_{name}"] = forms.ChoiceField(
                choices=[("survivor", _("保留")), ("duplicate", _("重复"))],
                initial=initial_sides.get(name, "survivor"),
                widget=forms.RadioSelect,
                required=False,
            )
        self.field_names = field_names

    def choices(self) -> dict[str, str]:
        return {
            name: self.cleaned_data.get(f"choice_{name}") or "survivor"
            for name in self.field_names
            if self.cleaned_data.get(f"choice_{name}") == "duplicate"
        }


class ReassignForm(Form):
    customers = forms.TypedMultipleChoiceField(
        label=_("客户"), coerce=int, choices=[], widget=forms.CheckboxSelectMultiple
    )
    to_users: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(
        label=_("接手的销售（多选时轮流分配）"), queryset=None, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, customer_choices: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        from crm.permissions import has_permission

        self.fields["customers"].choices = customer_choices  # type: ignore[attr-defined]
        staff = staff_queryset(tenant=require_tenant())
        eligible = [user.pk for user in staff if has_permission(user, "customers.claim")]
        self.fields["to_users"].queryset = staff.filter(pk__in=eligible)  # type: ignore[attr-defined]
