"""Browser forms of the aftercare pages (choices built per request from the tenant's rows)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from aftercare.models import TicketCategory, TicketPriority, TicketStatus
from crm.forms import Form, IsoDateTimeInput, camera_photos_widget
from crm.models import Tenant, User
from crm.selectors import staff_queryset
from crm.uploads import ImageUploadField, MultipleImageUploadField
from customers.visibility import rows_visible_to
from projects.models import Project


class VisitBookForm(Form):
    scheduled_at = forms.DateTimeField(
        label=_("预约时间"),
        widget=IsoDateTimeInput(),
    )
    technician = forms.ModelChoiceField(label=_("技术员"), queryset=User.objects.none(), required=False)

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["technician"].queryset = staff_queryset(tenant=tenant)


class VisitCompleteForm(Form):
    findings = forms.CharField(
        label=_("发现问题 / 处理情况"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    satisfaction = forms.TypedChoiceField(
        label=_("客户满意度"),
        choices=[("", "—")] + [(str(n), f"{n} ★") for n in range(5, 0, -1)],
        coerce=int,
        empty_value=None,
        required=False,
    )
    customer_confirmed = forms.BooleanField(label=_("客户已签字确认"), required=False)
    customer_signature = forms.CharField(label=_("客户签名"), max_length=50, required=False)
    renovation_interest = forms.BooleanField(label=_("客户有翻新 / 软装 / 家电意向"), required=False)
    photos = MultipleImageUploadField(label=_("现场照片"), required=False, widget=camera_photos_widget())
    # Filled by the signature pad (crm.js draws on a canvas and puts the PNG in this input).
    signature_image = ImageUploadField(
        label=_("手写签名"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/png", "hidden": True, "data-signature-input": ""}),
    )

    def __init__(self, *args, checklist: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.checklist = checklist
        for index, row in enumerate(checklist):
            self.fields[f"check_{index}"] = forms.ChoiceField(
                label=row.get("item", ""),
                choices=[("", "—"), ("ok", _("正常")), ("issue", _("有问题"))],
                required=False,
            )
            self.fields[f"note_{index}"] = forms.CharField(label=_("备注"), required=False, max_length=500)

    def checklist_rows(self):
        return [(self[f"check_{i}"], self[f"note_{i}"]) for i in range(len(self.checklist))]

    def checklist_results(self) -> list[dict]:
        results = []
        for index, row in enumerate(self.checklist):
            state = self.cleaned_data.get(f"check_{index}")
            results.append(
                {
                    "item": row.get("item", ""),
                    "ok": {"ok": True, "issue": False}.get(state),
                    "note": self.cleaned_data.get(f"note_{index}", ""),
                }
            )
        return results


class PlanUpdateForm(Form):
    assigned_to = forms.ModelChoiceField(label=_("负责客服"), queryset=User.objects.none(), required=False)
    customer_reminder_consent = forms.BooleanField(label=_("客户同意接收短信提醒"), required=False)

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = staff_queryset(tenant=tenant)


class TicketForm(Form):
    project = forms.ModelChoiceField(label=_("项目"), queryset=Project.objects.none())
    category = forms.ChoiceField(label=_("类别"), choices=TicketCategory.choices)
    priority = forms.ChoiceField(
        label=_("优先级"), choices=TicketPriority.choices, initial=TicketPriority.NORMAL
    )
    description = forms.CharField(label=_("问题描述"), widget=forms.Textarea(attrs={"rows": 3}))
    materials = forms.CharField(label=_("涉及材料"), max_length=200, required=False)
    assigned_to = forms.ModelChoiceField(label=_("处理人"), queryset=User.objects.none(), required=False)

    def __init__(self, *args, tenant: Tenant, user: User | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        projects = Project.objects.select_related("customer").order_by("-id")
        # Only projects of customers the user may see (customers.visibility).
        self.fields["project"].queryset = projects if user is None else rows_visible_to(user, projects)
        self.fields["assigned_to"].queryset = staff_queryset(tenant=tenant)


class TicketTransitionForm(Form):
    status = forms.ChoiceField(label=_("变更为"), choices=TicketStatus.choices)
    assigned_to = forms.ModelChoiceField(label=_("处理人"), queryset=User.objects.none(), required=False)
    note = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, tenant: Tenant, allowed: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = staff_queryset(tenant=tenant)
        if allowed is not None:
            self.fields["status"].choices = [(v, label) for v, label in TicketStatus.choices if v in allowed]


class SurveyAnswerForm(Form):
    score = forms.IntegerField(label=_("评分"))
    comment = forms.CharField(
        label=_("您的意见（选填）"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class AftercareSettingsForm(Form):
    reminder_offsets_days = forms.CharField(
        label=_("到期前提醒（天，逗号分隔）"), help_text=_("如 30,7：到期前 30 天和 7 天各提醒一次")
    )
    escalation_days_overdue = forms.IntegerField(label=_("逾期多少天升级给经理"), min_value=1, max_value=365)
    warranty_general = forms.IntegerField(label=_("一般保修（年）"), min_value=0, max_value=30)
    warranty_waterproofing = forms.IntegerField(label=_("防水保修（年）"), min_value=0, max_value=30)
    survey_link_days = forms.IntegerField(label=_("问卷链接有效天数"), min_value=1, max_value=90)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Two fields per ticket priority: hours to first response and to resolution.
        for priority, name in TicketPriority.choices:
            self.fields[f"sla_{priority}_first_response"] = forms.IntegerField(
                label=_("%(priority)s：首次响应（小时）") % {"priority": name}, min_value=1, max_value=8760
            )
            self.fields[f"sla_{priority}_resolution"] = forms.IntegerField(
                label=_("%(priority)s：解决（小时）") % {"priority": name}, min_value=1, max_value=8760
            )

    def sla_rows(self) -> list[tuple]:
        """(priority label, first-response field, resolution field) for the template's table."""
        return [
            (name, self[f"sla_{priority}_first_response"], self[f"sla_{priority}_resolution"])
            for priority, name in TicketPriority.choices
        ]

    def cleaned_sla_hours(self) -> dict[str, dict[str, int]]:
        return {
            priority: {
                "first_response": self.cleaned_data[f"sla_{priority}_first_response"],
                "resolution": self.cleaned_data[f"sla_{priority}_resolution"],
            }
            for priority in TicketPriority.values
        }

    @staticmethod
    def initial_sla(config) -> dict[str, int]:
        initial = {}
        for priority in TicketPriority.values:
            hours = config.sla_for(priority)
            initial[f"sla_{priority}_first_response"] = hours["first_response"]
            initial[f"sla_{priority}_resolution"] = hours["resolution"]
        return initial

    def clean(self) -> dict:
        cleaned = super().clean()
        for priority in TicketPriority.values:
            first = cleaned.get(f"sla_{priority}_first_response")
            done = cleaned.get(f"sla_{priority}_resolution")
            if first and done and first > done:
                self.add_error(f"sla_{priority}_first_response", _("首次响应时限不能晚于解决时限。"))
        return cleaned

    def clean_reminder_offsets_days(self) -> list[int]:
        raw = self.cleaned_data["reminder_offsets_days"].replace("，", ",")
        try:
            days = [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError(_("请输入用逗号分隔的天数，如 30,7。"))
        if not days or any(not 1 <= day <= 365 for day in days):
            raise forms.ValidationError(_("每个天数必须在 1 到 365 之间。"))
        return days


class PlanKindForm(Form):
    code = forms.SlugField(label=_("代码"), max_length=32, help_text=_("如 month_6"))
    name = forms.CharField(label=_("名称"), max_length=50)
    months_after_handover = forms.IntegerField(label=_("交付后月数"), min_value=1, max_value=240)
    checklist = forms.CharField(label=_("检查清单（每行一项）"), widget=forms.Textarea(attrs={"rows": 4}))
    creates_renovation_lead = forms.BooleanField(label=_("回访后生成翻新线索"), required=False)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args, lock_code: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].disabled = lock_code  # the code identifies the kind; editing keeps it

    def clean_checklist(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["checklist"].splitlines() if line.strip()]


class CustomerTicketForm(Form):
    """What a customer may tell us from the progress page: what, where, how urgent, a photo."""

    category = forms.ChoiceField(label=_("问题类别"), choices=TicketCategory.choices)
    description = forms.CharField(
        label=_("问题描述"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": _("如：主卫地漏返水")}),
    )
    urgent = forms.BooleanField(label=_("紧急（漏水、断电等）"), required=False)
