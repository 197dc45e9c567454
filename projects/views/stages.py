"""Stage actions (move, sign, handover, acceptance) and the stage settings page."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from crm.permissions import RoleRequiredMixin
from crm.tenancy import require_tenant
from projects import forms, selectors
from projects.services import (
    contracts,
    signing,
    stages,
)
from projects.views._common import ProjectActionView


class StageMoveView(ProjectActionView):
    action_permission = "projects.move_stage"
    form_name = "move_form"

    def act(self, request):
        self.form = forms.StageMoveForm(request.POST, stage_names=selectors.stage_names(tenant=self.tenant))
        if not self.form.is_valid():
            return None
        stages.project_move_stage(
            tenant=self.tenant, project=self.project, moved_by=request.user, **self.form.cleaned_data
        )
        return _("阶段已更新。")


class SignView(ProjectActionView):
    action_permission = "projects.sign"
    form_name = "sign_form"

    def act(self, request):
        self.form = forms.SignForm(request.POST)
        if not self.form.is_valid():
            return None
        contracts.contract_sign(
            tenant=self.tenant, project=self.project, signed_by=request.user, **self.form.cleaned_data
        )
        return _("合同已签订。")


class HandoverView(ProjectActionView):
    action_permission = "projects.handover"

    def act(self, request):
        stages.project_handover(
            tenant=self.tenant,
            project=self.project,
            handed_over_by=request.user,
            handed_over_on=timezone.localdate(),
        )
        return _("项目已交付。")


class AcceptanceView(ProjectActionView):
    action_permission = "projects.acceptance"
    form_name = "acceptance_form"

    def act(self, request):
        self.form = forms.AcceptanceForm(request.POST)
        if not self.form.is_valid():
            return None
        stages.acceptance_record(
            tenant=self.tenant, project=self.project, recorded_by=request.user, **self.form.cleaned_data
        )
        return _("验收已记录。")


class StageSettingsView(RoleRequiredMixin, View):
    required_permission = "projects.settings"

    def get(self, request, form=None):
        tenant = require_tenant()
        form = form or forms.StageSettingForm(settings=selectors.stage_settings(tenant=tenant))
        return render(request, "projects/stage_settings.html", {"form": form})

    def post(self, request):
        tenant = require_tenant()
        form = forms.StageSettingForm(request.POST, settings=selectors.stage_settings(tenant=tenant))
        if not form.is_valid():
            return self.get(request, form=form)
        for info, name, days in form.rows():
            stages.stage_setting_update(
                tenant=tenant,
                stage=info.key,
                name=form.cleaned_data[name.name],
                planned_days=form.cleaned_data[days.name],
            )
        messages.success(request, _("阶段模板已保存。"))
        return redirect("projects:stage-settings")


class SigningSettingsView(RoleRequiredMixin, View):
    """The steps required before a contract is signed (one checkbox per registered requirement)."""

    required_permission = "projects.settings"

    def get(self, request, form=None):
        tenant = require_tenant()
        form = form or forms.SigningPolicyForm(
            initial={"required_steps": signing.required_signing_steps(tenant=tenant)}
        )
        return render(request, "projects/signing_settings.html", {"form": form})

    def post(self, request):
        tenant = require_tenant()
        form = forms.SigningPolicyForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form)
        signing.signing_policy_update(
            tenant=tenant, actor=request.user, required_steps=list(form.cleaned_data["required_steps"])
        )
        messages.success(request, _("签约前置条件已保存。"))
        return redirect("projects:signing-settings")
