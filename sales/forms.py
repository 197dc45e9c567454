"""Browser forms of appointments and tasks; the rules (past, overlap, staff) stay in the services."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from crm.forms import Form, IsoDateTimeInput
from crm.models import Tenant, User
from crm.selectors import staff_queryset
from customers.models import Customer
from projects.models import Project
from sales.models import AppointmentKind

CUSTOMER_CHOICES_LIMIT = 200

REMIND_CHOICES = [
    (0, _("开始时")),
    (15, _("提前 15 分钟")),
    (30, _("提前 30 分钟")),
    (60, _("提前 1 小时")),
    (120, _("提前 2 小时")),
    (1440, _("提前 1 天")),
]


def _customer_choices(customers: QuerySet[Customer]) -> QuerySet[Customer]:
    """The customers a form may pick: the visible ones, most recently touched first (a bounded list)."""
    recent = list(
        customers.order_by("-last_touch_at", "-id").values_list("pk", flat=True)[:CUSTOMER_CHOICES_LIMIT]
    )
    return Customer.objects.filter(pk__in=recent).order_by("name", "id")


class _CustomerWorkForm(Form):
    """Customer (fixed when the page was opened from it, else a bounded pick) and one of its projects."""

    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), label=_("客户"))
    project = forms.ModelChoiceField(queryset=Project.objects.none(), required=False, label=_("项目"))

    def __init__(self, *args, tenant: Tenant, customers: QuerySet[Customer], customer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        if customer is not None:
            self.fields["customer"].queryset = Customer.objects.filter(pk=customer.pk)
            self.fields["customer"].initial = customer.pk
            self.fields["customer"].widget = forms.HiddenInput()
            self.fields["project"].queryset = Project.objects.filter(customer=customer).order_by("-id")
        else:
            self.fields["customer"].queryset = _customer_choices(customers)
            self.fields["project"].widget = forms.HiddenInput()

    def clean(self):
        data = super().clean()
        customer, project = data.get("customer"), data.get("project")
        if customer is not None and project is not None and project.customer_id != customer.pk:
            self.add_error("project", _("项目不属于该客户。"))
        return data


class AppointmentForm(_CustomerWorkForm):
    kind = forms.ChoiceField(choices=AppointmentKind.choices, label=_("类型"))
    place = forms.CharField(max_length=200, label=_("地点"))
    starts_at = forms.DateTimeField(widget=IsoDateTimeInput(), label=_("开始时间"))
    ends_at = forms.DateTimeField(widget=IsoDateTimeInput(), label=_("结束时间"))
    staff = forms.ModelChoiceField(queryset=User.objects.none(), label=_("负责人"))
    participants = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False, label=_("同行人员")
    )
    remind_before = forms.TypedChoiceField(choices=REMIND_CHOICES, coerce=int, initial=60, label=_("提醒"))
    note = forms.CharField(max_length=500, required=False, label=_("备注"))

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, tenant=tenant, **kwargs)
        self.fields["staff"].queryset = staff_queryset(tenant=tenant)
        self.fields["participants"].queryset = staff_queryset(tenant=tenant)


class RescheduleForm(Form):
    starts_at = forms.DateTimeField(widget=IsoDateTimeInput(), label=_("新开始时间"))
    ends_at = forms.DateTimeField(widget=IsoDateTimeInput(), label=_("新结束时间"))
    reason = forms.CharField(max_length=200, required=False, label=_("改约原因"))


class CloseAppointmentForm(Form):
    ACTIONS = [("done", _("已完成")), ("no_show", _("客户爽约")), ("cancel", _("取消预约"))]

    action = forms.ChoiceField(choices=ACTIONS, label=_("处理"))
    outcome = forms.CharField(max_length=500, required=False, label=_("结果说明"))


class TaskForm(_CustomerWorkForm):
    title = forms.CharField(max_length=200, label=_("事项"))
    due_at = forms.DateTimeField(widget=IsoDateTimeInput(), label=_("截止时间"))
    assignee = forms.ModelChoiceField(queryset=User.objects.none(), label=_("负责人"))
    note = forms.CharField(max_length=500, required=False, label=_("说明"))

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, tenant=tenant, **kwargs)
        self.fields["assignee"].queryset = staff_queryset(tenant=tenant)


class ReassignTaskForm(Form):
    assignee = forms.ModelChoiceField(queryset=User.objects.none(), label=_("新负责人"))

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff_queryset(tenant=tenant)
