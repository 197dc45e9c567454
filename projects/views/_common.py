"""Shared pieces of the project pages: the detail tabs and context, the action view base."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from crm import extensions
from crm.access import get_for_user_or_404
from crm.forms import apply_service_errors
from crm.permissions import RoleRequiredMixin, has_permission
from crm.tenancy import require_tenant
from projects import extensions as project_extensions
from projects import forms, selectors
from projects.models import (
    STAGE_ORDER,
    ConstructionCallback,
    DesignPlan,
    Material,
    Project,
    ShareLink,
)
from projects.services import (
    inspections,
    signing,
)

TABS = [
    ("stages", gettext_lazy("阶段")),
    ("plans", gettext_lazy("设计方案")),
    ("logs", gettext_lazy("施工日志")),
    ("inspections", gettext_lazy("质检整改")),
    ("change_orders", gettext_lazy("变更单")),
    ("materials", gettext_lazy("材料")),
    ("callbacks", gettext_lazy("回访")),
    ("share", gettext_lazy("客户进度页")),
]


def detail_context(request, project: Project, tab: str, **overrides) -> dict:
    tenant = require_tenant()
    sections = selectors.detail_sections(project, tab=tab)
    settings = sections["settings"]
    names = {info.key: info.name for info in settings}
    user = request.user
    perm = {
        name: has_permission(user, f"projects.{name}")
        for name in (
            "edit",
            "move_stage",
            "sign",
            "handover",
            "acceptance",
            "design",
            "daily_log",
            "inspect",
            "change_order",
            "change_order_decide",
            "material",
            "share",
            "callback",
            "cancel",
        )
    }
    current = STAGE_ORDER.index(project.stage)
    timeline = []
    for info in settings:
        state = "done" if info.index < current else ("current" if info.index == current else "todo")
        timeline.append({"info": info, "state": state})
    context = {
        "project": project,
        "tab": tab,
        # ``?open=log`` / ``?open=inspect``: the workbench's one-tap site actions land on the open form.
        "open_form": request.GET.get("open", "")[:20],
        "tabs": TABS,
        "stage_name": names[project.stage],
        "team": sections["team"],
        "stage_names": names,
        "timeline": timeline,
        "overdue": selectors.is_overdue(project, settings),
        "due_at": selectors.stage_due_at(project, settings),
        # = change_orders.project_budget, its change-order total read with the project
        "budget": (project.contract_amount_fen or 0) + sections["approved_delta"],
        "perm": perm,
        "next_stage": STAGE_ORDER[current + 1] if current + 1 < len(STAGE_ORDER) else None,
        "panels": extensions.project_panels(request=request, tenant=tenant, project=project),
    }
    if tab == "stages":
        context["history"] = sections["history"]
        context["acceptances"] = sections["acceptances"]
        # Only the forms the template shows this user for this project are built (and read for).
        if perm["move_stage"] and not project.handed_over_on and not project.cancelled_at:
            context["move_form"] = overrides.get("move_form") or forms.StageMoveForm(
                stage_names=names, initial={"to_stage": context["next_stage"] or project.stage}
            )
        if perm["sign"] and project.signed_on is None:
            context["sign_form"] = overrides.get("sign_form") or forms.SignForm(
                initial={
                    "contract_amount_fen": project_extensions.contract_amount_default(
                        tenant=tenant, project=project
                    )
                }
            )
            context["signing_missing"] = signing.missing_signing_steps(tenant=tenant, project=project)
        if perm["cancel"] and project.signed_on and not project.handed_over_on and not project.cancelled_at:
            context["cancel_form"] = overrides.get("cancel_form") or forms.ContractCancelForm()
        if perm["acceptance"] and not project.handed_over_on:
            context["acceptance_form"] = overrides.get("acceptance_form") or forms.AcceptanceForm()
    elif tab == "plans":
        context["plans"] = DesignPlan.objects.filter(project=project).prefetch_related(
            "revisions__changed_by"
        )
        context["plan_form"] = overrides.get("plan_form") or forms.DesignPlanForm()
    elif tab == "logs":
        context["logs"] = selectors.daily_logs_with_photos(project=project)
        context["log_form"] = overrides.get("log_form") or forms.DailyLogForm()
    elif tab == "inspections":
        context["inspections"] = selectors.inspections_for_project(project=project)
        context["rectifications"] = selectors.open_rectifications(project=project)
        context["inspection_form"] = overrides.get("inspection_form") or forms.InspectionForm(
            checklist=inspections.checklist_items(tenant=tenant)
        )
        context["reinspect_form"] = forms.ReinspectForm()
    elif tab == "change_orders":
        context["change_orders"] = selectors.change_orders_for_project(project=project)
        context["change_order_form"] = overrides.get("change_order_form") or forms.ChangeOrderForm()
        context["decide_form"] = forms.DecideForm()
    elif tab == "materials":
        context["materials"] = Material.objects.filter(project=project).prefetch_related("reports")
        context["material_form"] = overrides.get("material_form") or forms.MaterialForm()
        context["report_form"] = forms.MaterialReportForm()
    elif tab == "callbacks":
        context["callbacks"] = ConstructionCallback.objects.filter(project=project).select_related(
            "assigned_to", "completed_by"
        )
        context["callback_form"] = forms.CallbackForm()
    elif tab == "share":
        context["links"] = ShareLink.objects.filter(project=project).select_related("created_by")
        context["share_form"] = forms.ShareLinkForm()
        context["new_link"] = overrides.get("new_link")
    return context


class ProjectActionView(RoleRequiredMixin, View):
    """Base of the detail page's POST actions: run a service, redirect, or re-render with errors."""

    required_permission = "projects.view"
    action_permission = ""
    tab = "stages"

    def post(self, request, pk: int, **kwargs):
        self.tenant = require_tenant()
        self.project = get_for_user_or_404(
            Project.objects.select_related("customer"),
            user=request.user,
            permission=self.action_permission,
            pk=pk,
        )
        try:
            with transaction.atomic():
                result = self.act(request, **kwargs)
        except ValidationError as error:
            form = getattr(self, "form", None)
            if form is None:
                messages.error(request, _("；").join(error.messages))
                return redirect(f"{reverse('projects:detail', args=[pk])}?tab={self.tab}")
            apply_service_errors(form, error)
            result = None
        except PermissionDenied as error:
            messages.error(request, str(error))
            return redirect(f"{reverse('projects:detail', args=[pk])}?tab={self.tab}")
        if isinstance(result, HttpResponse):
            return result
        if result is None:  # invalid form: show it again with its errors (status 400)
            self.project.refresh_from_db()
            context = detail_context(request, self.project, self.tab, **{self.form_name: self.form})
            return render(request, "projects/detail.html", context, status=400)
        messages.success(request, result)
        return redirect(f"{reverse('projects:detail', args=[pk])}?tab={self.tab}")

    form_name = ""

    def act(self, request, **kwargs):
        raise NotImplementedError
