"""Design plan actions."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from projects import forms
from projects.models import (
    DesignPlan,
)
from projects.services import (
    designs,
)
from projects.views._common import ProjectActionView


class DesignPlanCreateView(ProjectActionView):
    action_permission = "projects.design"
    form_name = "plan_form"
    tab = "plans"

    def act(self, request):
        self.form = forms.DesignPlanForm(request.POST)
        if not self.form.is_valid():
            return None
        data = dict(self.form.cleaned_data)
        data.pop("change_note")
        designs.design_plan_create(tenant=self.tenant, project=self.project, created_by=request.user, **data)
        return _("方案已添加。")


class DesignPlanReviseView(ProjectActionView):
    action_permission = "projects.design"
    form_name = "plan_form"
    tab = "plans"

    def act(self, request, plan_id: int):
        plan = get_object_or_404(DesignPlan.objects.filter(project=self.project), pk=plan_id)
        self.form = forms.DesignPlanForm(request.POST)
        if not self.form.is_valid():
            return None
        data = dict(self.form.cleaned_data)
        data.pop("label")
        note = data.pop("change_note")
        designs.design_plan_revise(
            tenant=self.tenant, plan=plan, revised_by=request.user, change_note=note, **data
        )
        return _("%(label)s 已更新为第 %(version)s 版。") % {"label": plan.label, "version": plan.version + 1}


class DesignPlanChooseView(ProjectActionView):
    action_permission = "projects.design"
    tab = "plans"

    def act(self, request, plan_id: int):
        plan = get_object_or_404(DesignPlan.objects.filter(project=self.project), pk=plan_id)
        designs.design_plan_choose(tenant=self.tenant, plan=plan, chosen_by=request.user)
        return _("已记录客户选定 %(label)s。") % {"label": plan.label}
