"""Browser forms of projects; querysets are built per request (tenant-scoped)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.forms import Form, IsoDateInput, ModelForm, camera_photos_widget
from crm.models import Tenant
from crm.money import MoneyError, YuanFormField, parse_yuan
from crm.selectors import staff_queryset
from crm.uploads import DocumentUploadField, MultipleImageUploadField
from customers.models import Customer
from customers.visibility import customers_visible_to
from projects.models import STAGE_ORDER, AcceptanceKind, DecisionChannel, Material, Project, Stage


class ProjectFilterForm(Form):
    q = forms.CharField(label=gettext_lazy("搜索"), required=False)
    stage = forms.ChoiceField(label=gettext_lazy("阶段"), required=False)
    staff = forms.ModelChoiceField(label=gettext_lazy("员工"), queryset=None, required=False)
    customer = forms.IntegerField(label=gettext_lazy("客户"), required=False, widget=forms.HiddenInput)
    overdue = forms.BooleanField(label=gettext_lazy("仅看超期"), required=False)
    # Drill-down parameters of the analytics pages (hidden: set by links, not by hand).
    active = forms.BooleanField(required=False, widget=forms.HiddenInput)
    signed_after = forms.DateField(required=False, widget=forms.HiddenInput)
    signed_before = forms.DateField(required=False, widget=forms.HiddenInput)
    owner = forms.IntegerField(required=False, widget=forms.HiddenInput)
    designer = forms.IntegerField(required=False, widget=forms.HiddenInput)
    pm = forms.IntegerField(required=False, widget=forms.HiddenInput)
    channel = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput)

    def __init__(self, *args, tenant: Tenant, stage_names: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [("", _("全部阶段")), *stage_names.items()]
        self.fields["staff"].queryset = staff_queryset(tenant=tenant)
        self.fields["staff"].empty_label = _("全部员工")


class ProjectForm(ModelForm):
    customer = forms.ModelChoiceField(label=gettext_lazy("客户"), queryset=Customer.objects.none())

    class Meta:
        model = Project
        fields = [
            "customer",
            "name",
            "address",
            "area_sqm",
            "style",
            "planned_start_on",
            "planned_end_on",
            "designer",
            "project_manager",
            "supervisor",
            "service_owner",
        ]
        widgets = {
            "planned_start_on": IsoDateInput(),
            "planned_end_on": IsoDateInput(),
        }

    def __init__(self, *args, tenant: Tenant, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Only customers the user may see (customers.visibility): another rep's customer can't be picked.
        self.fields["customer"].queryset = customers_visible_to(user)
        for name in ("designer", "project_manager", "supervisor", "service_owner"):
            self.fields[name].queryset = staff_queryset(tenant=tenant)


class ProjectEditForm(ModelForm):
    """Details and team of an existing project; the rules live in ``services.project_update``."""

    class Meta:
        model = Project
        fields = [name for name in ProjectForm.Meta.fields if name != "customer"]
        widgets = ProjectForm.Meta.widgets

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("designer", "project_manager", "supervisor", "service_owner"):
            self.fields[name].queryset = staff_queryset(tenant=tenant)


class StageMoveForm(Form):
    to_stage = forms.ChoiceField(label=gettext_lazy("目标阶段"))
    reason = forms.CharField(label=gettext_lazy("原因（退回时必填）"), required=False, max_length=300)

    def __init__(self, *args, stage_names: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_stage"].choices = [(key, stage_names[key]) for key in STAGE_ORDER]


class SignForm(Form):
    contract_number = forms.CharField(label=gettext_lazy("合同编号"), max_length=50)
    contract_amount_fen = YuanFormField(
        label=gettext_lazy("合同金额（元）"),
        required=False,
        help_text=gettext_lazy("留空 = 客户已接受报价的合计"),
    )
    signed_on = forms.DateField(
        label=gettext_lazy("签约日期"), initial=timezone.localdate, widget=IsoDateInput()
    )
    override_reason = forms.CharField(
        label=gettext_lazy("越过签约前置条件的理由（仅经理）"), max_length=200, required=False
    )


class SigningPolicyForm(Form):
    """One checkbox per signing requirement registered in ``projects.extensions``."""

    required_steps = forms.MultipleChoiceField(
        label=gettext_lazy("签约前必须完成"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, **kwargs):
        from projects import extensions

        super().__init__(*args, **kwargs)
        self.fields["required_steps"].choices = [  # type: ignore[attr-defined]
            (key, requirement.label) for key, requirement in extensions.signing_requirements().items()
        ]


class AcceptanceForm(Form):
    kind = forms.ChoiceField(label=gettext_lazy("验收类型"), choices=AcceptanceKind.choices)
    passed = forms.TypedChoiceField(
        label=gettext_lazy("结果"),
        choices=[("1", gettext_lazy("通过")), ("0", gettext_lazy("不通过"))],
        coerce=lambda v: v == "1",
    )
    notes = forms.CharField(
        label=gettext_lazy("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class DailyLogForm(Form):
    log_date = forms.DateField(label=gettext_lazy("日期"), initial=timezone.localdate, widget=IsoDateInput())
    work_done = forms.CharField(label=gettext_lazy("今日完成"), widget=forms.Textarea(attrs={"rows": 3}))
    plan_tomorrow = forms.CharField(
        label=gettext_lazy("明日计划"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    workers_on_site = forms.IntegerField(
        label=gettext_lazy("在场工人数"), min_value=0, max_value=200, initial=0
    )
    photos = MultipleImageUploadField(
        label=gettext_lazy("现场照片（最多 9 张，JPG/PNG/WebP，每张 ≤10MB）"), required=False
    )
    workers_on_site = forms.IntegerField(
        label=gettext_lazy("在场工人数"), min_value=0, max_value=200, initial=0
    )
    photos = MultipleImageUploadField(
        label=gettext_lazy("现场照片（最多 9 张，JPG/PNG/WebP，每张 ≤10MB）"),
        required=False,
        widget=camera_photos_widget(),
    )


class DesignPlanForm(Form):
    label = forms.CharField(label=gettext_lazy("方案"), max_length=20, initial=gettext_lazy("方案A"))
    title = forms.CharField(label=gettext_lazy("标题"), max_length=100)
    style = forms.CharField(label=gettext_lazy("风格"), max_length=30, required=False)
    cost_min_fen = YuanFormField(label=gettext_lazy("预算下限（元）"))
    cost_max_fen = YuanFormField(label=gettext_lazy("预算上限（元）"))
    notes = forms.CharField(
        label=gettext_lazy("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    change_note = forms.CharField(label=gettext_lazy("修改说明"), required=False, max_length=200)


class ChangeOrderForm(Form):
    title = forms.CharField(label=gettext_lazy("标题"), max_length=100)
    reason = forms.CharField(label=gettext_lazy("变更原因"), widget=forms.Textarea(attrs={"rows": 2}))
    lines = forms.CharField(
        label=gettext_lazy("明细（每行：项目|数量|单位|单价，减项单价填负数）"),
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": gettext_lazy("石膏板吊顶|12|㎡|150\n取消阳台柜|1|项|-2800")}
        ),
    )

    def clean_lines(self) -> list[dict]:
        rows = []
        for number, raw in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            if not raw.strip():
                continue
            parts = [part.strip() for part in raw.split("|")]
            if len(parts) != 4:
                raise ValidationError(_("第 %(number)s 行格式应为：项目|数量|单位|单价") % {"number": number})
            try:
                quantity = Decimal(parts[1])
            except InvalidOperation:
                raise ValidationError(
                    _("第 %(number)s 行的数量或单价不是数字") % {"number": number}
                ) from None
            try:
                unit_price_fen = parse_yuan(parts[3], allow_negative=True)
            except MoneyError as error:
                raise ValidationError(
                    _("第 %(number)s 行的单价：%(message)s") % {"number": number, "message": error}
                ) from None
            rows.append(
                {
                    "description": parts[0],
                    "quantity": quantity,
                    "unit": parts[2],
                    "unit_price_fen": unit_price_fen,
                }
            )
        if not rows:
            raise ValidationError(_("至少填写一行明细"))
        return rows


class DecideForm(Form):
    approve = forms.TypedChoiceField(
        label=gettext_lazy("结果"),
        choices=[("1", gettext_lazy("批准")), ("0", gettext_lazy("拒绝"))],
        coerce=lambda v: v == "1",
    )
    channel = forms.ChoiceField(
        label=gettext_lazy("客户确认方式"),
        choices=[c for c in DecisionChannel.choices if c[0] != DecisionChannel.CUSTOMER_LINK],
    )
    note = forms.CharField(label=gettext_lazy("备注"), required=False, max_length=300)


class MaterialForm(ModelForm):
    class Meta:
        model = Material
        fields = [
            "category",
            "name",
            "brand",
            "model_number",
            "batch_number",
            "supplier",
            "room",
            "quantity",
            "unit",
        ]


class MaterialReportForm(Form):
    title = forms.CharField(label=gettext_lazy("报告名称"), max_length=100)
    file = DocumentUploadField(label=gettext_lazy("报告文件（PDF 或图片）"))


class InspectionForm(Form):
    """One pass/fail radio + note per checklist item (fields built from the tenant's checklist)."""

    notes = forms.CharField(
        label=gettext_lazy("总体备注"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, checklist, **kwargs):
        super().__init__(*args, **kwargs)
        self.checklist = list(checklist)
        for item in self.checklist:
            self.fields[f"item_{item.pk}"] = forms.ChoiceField(
                label=item.title,
                choices=[("pass", _("合格")), ("fail", _("不合格"))],
                initial="pass",
                widget=forms.RadioSelect,
            )
            self.fields[f"hazard_{item.pk}"] = forms.CharField(
                label=_("问题/整改要求"), required=False, max_length=300
            )

    def rows(self):
        for item in self.checklist:
            yield item, self[f"item_{item.pk}"], self[f"hazard_{item.pk}"]

    def items(self) -> list[dict]:
        return [
            {
                "category": item.category,
                "title": item.title,
                "passed": self.cleaned_data[f"item_{item.pk}"] == "pass",
                "hazard": self.cleaned_data[f"hazard_{item.pk}"],
            }
            for item in self.checklist
        ]


class ReinspectForm(Form):
    passed = forms.TypedChoiceField(
        label=gettext_lazy("复检结果"),
        choices=[("1", gettext_lazy("合格")), ("0", gettext_lazy("不合格"))],
        coerce=lambda v: v == "1",
    )
    note = forms.CharField(label=gettext_lazy("说明"), required=False, max_length=300)


class CallbackForm(Form):
    satisfaction = forms.TypedChoiceField(
        label=gettext_lazy("满意度"),
        choices=[(str(i), _("%(score)s 分") % {"score": i}) for i in range(5, 0, -1)],
        coerce=int,
    )
    comments = forms.CharField(
        label=gettext_lazy("客户意见"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class ShareLinkForm(Form):
    valid_days = forms.IntegerField(label=gettext_lazy("有效天数"), min_value=1, max_value=365, initial=90)


class StageSettingForm(Form):
    def __init__(self, *args, settings, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = settings
        for info in settings:
            self.fields[f"name_{info.key}"] = forms.CharField(
                label=str(Stage(info.key).label), max_length=30, initial=info.name
            )
            self.fields[f"days_{info.key}"] = forms.IntegerField(
                label=_("计划天数"), min_value=0, max_value=365, initial=info.planned_days
            )

    def rows(self):
        for info in self.settings:
            yield info, self[f"name_{info.key}"], self[f"days_{info.key}"]


class ConfirmCodeForm(Form):
    code = forms.CharField(label=gettext_lazy("短信验证码"), max_length=6, min_length=6)
