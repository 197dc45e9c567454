"""Browser pages: project list, board, detail with tabs, and the public customer progress page."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from crm import ratelimit
from crm.permissions import RoleRequiredMixin, has_permission
from crm.tenancy import require_tenant, tenant_context
from projects import forms, selectors
from projects.models import (
    STAGE_ORDER,
    ChangeOrder,
    ChangeOrderStatus,
    ConstructionCallback,
    DesignPlan,
    Material,
    Project,
    Rectification,
    ShareLink,
    StageHistory,
)
from projects.services import (
    callbacks,
    contracts,
    designs,
    inspections,
    logs,
    materials,
    projects,
    share,
    stages,
)
from projects.services import change_orders as change_orders_services

TABS = [
    ("stages", "阶段"),
    ("plans", "设计方案"),
    ("logs", "施工日志"),
    ("inspections", "质检整改"),
    ("change_orders", "变更单"),
    ("materials", "材料"),
    ("callbacks", "回访"),
    ("share", "客户进度页"),
]


def _apply_error(form, error: ValidationError) -> None:
    """Put a service error on the form field it names (or on the form)."""
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, error.messages)


class ProjectListView(RoleRequiredMixin, View):
    required_permission = "projects.view"

    def get(self, request):
        tenant = require_tenant()
        settings = selectors.stage_settings(tenant=tenant)
        names = {info.key: info.name for info in settings}
        form = forms.ProjectFilterForm(request.GET or None, tenant=tenant, stage_names=names)
        filters = form.cleaned_data if form.is_valid() else {}
        queryset = selectors.projects_for_list(
            tenant=tenant,
            stage=filters.get("stage") or "",
            overdue=bool(filters.get("overdue")),
            staff_id=filters["staff"].pk if filters.get("staff") else None,
            customer_id=filters.get("customer"),
            search=filters.get("q") or "",
        ).filter(selectors.drilldown_q(filters))
        page = Paginator(queryset, 25).get_page(request.GET.get("page"))
        for project in page.object_list:
            project.stage_name = names[project.stage]
            project.overdue = selectors.is_overdue(project, settings)
            project.budget = (project.contract_amount or 0) + (project.approved_delta or 0)
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "projects/list.html",
            {
                "form": form,
                "page": page,
                "query": query.urlencode(),
                "can_create": has_permission(request.user, "projects.edit"),
                "pm_scores": selectors.pm_quality_scores(
                    tenant=tenant, since=timezone.localdate() - datetime.timedelta(days=90)
                ),
            },
        )


class ProjectBoardView(RoleRequiredMixin, View):
    required_permission = "projects.view"

    def get(self, request):
        return render(
            request, "projects/board.html", {"columns": selectors.board_columns(tenant=require_tenant())}
        )


class ProjectCreateView(RoleRequiredMixin, View):
    required_permission = "projects.edit"

    def get(self, request, form=None):
        tenant = require_tenant()
        initial = {"customer": request.GET.get("customer")} if request.GET.get("customer") else None
        form = form or forms.ProjectForm(tenant=tenant, initial=initial)
        return render(request, "projects/form.html", {"form": form})

    def post(self, request):
        tenant = require_tenant()
        form = forms.ProjectForm(request.POST, tenant=tenant)
        if not form.is_valid():
            return self.get(request, form=form)
        data = dict(form.cleaned_data)
        try:
            project = projects.project_create(
                tenant=tenant,
                created_by=request.user,
                customer=data.pop("customer"),
                name=data.pop("name"),
                **data,
            )
        except ValidationError as error:
            _apply_error(form, error)
            return self.get(request, form=form)
        messages.success(request, "项目已创建。")
        return redirect("projects:detail", pk=project.pk)


class ProjectEditView(RoleRequiredMixin, View):
    """Edit details and team through ``project_update`` (the same rules as API PATCH)."""

    required_permission = "projects.edit"

    def get(self, request, pk: int, form=None):
        project = get_object_or_404(Project.objects.all(), pk=pk)
        form = form or forms.ProjectEditForm(instance=project, tenant=require_tenant())
        context = {"form": form, "project": project}
        return render(request, "projects/form.html", context, status=400 if form.errors else 200)

    def post(self, request, pk: int):
        tenant = require_tenant()
        project = get_object_or_404(Project.objects.all(), pk=pk)
        form = forms.ProjectEditForm(request.POST, instance=Project.objects.get(pk=pk), tenant=tenant)
        if form.is_valid():
            try:
                projects.project_update(
                    tenant=tenant,
                    project=project,
                    updated_by=request.user,
                    **{name: form.cleaned_data[name] for name in form.Meta.fields},
                )
            except ValidationError as error:
                _apply_error(form, error)
            else:
                messages.success(request, _("项目已保存。"))
                return redirect("projects:detail", pk=project.pk)
        return self.get(request, pk, form=form)


def detail_context(request, project: Project, tab: str, **overrides) -> dict:
    tenant = require_tenant()
    settings = selectors.stage_settings(tenant=tenant)
    names = {info.key: info.name for info in settings}
    user = request.user
    current = STAGE_ORDER.index(project.stage)
    timeline = []
    for info in settings:
        state = "done" if info.index < current else ("current" if info.index == current else "todo")
        timeline.append({"info": info, "state": state})
    context = {
        "project": project,
        "tab": tab,
        "tabs": TABS,
        "stage_name": names[project.stage],
        "stage_names": names,
        "timeline": timeline,
        "overdue": selectors.is_overdue(project, settings),
        "due_at": selectors.stage_due_at(project, settings),
        "budget": change_orders_services.project_budget(project=project),
        "perm": {
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
        },
        "next_stage": STAGE_ORDER[current + 1] if current + 1 < len(STAGE_ORDER) else None,
    }
    if tab == "stages":
        context["history"] = StageHistory.objects.filter(project=project).select_related("changed_by")
        context["acceptances"] = project.acceptances.select_related("recorded_by")
        context["move_form"] = overrides.get("move_form") or forms.StageMoveForm(
            stage_names=names, initial={"to_stage": context["next_stage"] or project.stage}
        )
        context["sign_form"] = overrides.get("sign_form") or forms.SignForm()
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


class ProjectDetailView(RoleRequiredMixin, View):
    required_permission = "projects.view"

    def get(self, request, pk: int):
        project = get_object_or_404(
            Project.objects.select_related(
                "customer", "designer", "project_manager", "supervisor", "service_owner"
            ),
            pk=pk,
        )
        tab = request.GET.get("tab", "stages")
        if tab not in dict(TABS):
            tab = "stages"
        return render(request, "projects/detail.html", detail_context(request, project, tab))


class ProjectActionView(RoleRequiredMixin, View):
    """Base of the detail page's POST actions: run a service, redirect, or re-render with errors."""

    required_permission = "projects.view"
    action_permission = ""
    tab = "stages"

    def post(self, request, pk: int, **kwargs):
        if not has_permission(request.user, self.action_permission):
            raise PermissionDenied("您的角色无权执行此操作。")
        self.tenant = require_tenant()
        self.project = get_object_or_404(Project.objects.select_related("customer"), pk=pk)
        try:
            with transaction.atomic():
                result = self.act(request, **kwargs)
        except ValidationError as error:
            form = getattr(self, "form", None)
            if form is None:
                messages.error(request, "；".join(error.messages))
                return redirect(f"{reverse('projects:detail', args=[pk])}?tab={self.tab}")
            _apply_error(form, error)
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
        return "阶段已更新。"


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
        return "合同已签订。"


class HandoverView(ProjectActionView):
    action_permission = "projects.handover"

    def act(self, request):
        stages.project_handover(
            tenant=self.tenant,
            project=self.project,
            handed_over_by=request.user,
            handed_over_on=timezone.localdate(),
        )
        return "项目已交付。"


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
        return "验收已记录。"


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
        return "方案已添加。"


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
        return f"{plan.label} 已更新为第 {plan.version + 1} 版。"


class DesignPlanChooseView(ProjectActionView):
    action_permission = "projects.design"
    tab = "plans"

    def act(self, request, plan_id: int):
        plan = get_object_or_404(DesignPlan.objects.filter(project=self.project), pk=plan_id)
        designs.design_plan_choose(tenant=self.tenant, plan=plan, chosen_by=request.user)
        return f"已记录客户选定 {plan.label}。"


class DailyLogCreateView(ProjectActionView):
    action_permission = "projects.daily_log"
    form_name = "log_form"
    tab = "logs"

    def act(self, request):
        self.form = forms.DailyLogForm(request.POST, request.FILES)
        if not self.form.is_valid():
            return None
        logs.daily_log_create(
            tenant=self.tenant, project=self.project, author=request.user, **self.form.cleaned_data
        )
        return "日志已发布。"


class InspectionCreateView(ProjectActionView):
    action_permission = "projects.inspect"
    form_name = "inspection_form"
    tab = "inspections"

    def act(self, request):
        self.form = forms.InspectionForm(
            request.POST, checklist=inspections.checklist_items(tenant=self.tenant)
        )
        if not self.form.is_valid():
            return None
        inspection = inspections.inspection_record(
            tenant=self.tenant,
            project=self.project,
            inspector=request.user,
            items=self.form.items(),
            notes=self.form.cleaned_data["notes"],
        )
        return f"质检已记录，得分 {inspection.score}。"


class ReinspectView(ProjectActionView):
    action_permission = "projects.inspect"
    tab = "inspections"

    def act(self, request, rectification_id: int):
        rectification = get_object_or_404(
            Rectification.objects.filter(project=self.project), pk=rectification_id
        )
        form = forms.ReinspectForm(request.POST)
        if not form.is_valid():
            raise ValidationError({"passed": "请选择复检结果。"})
        inspections.rectification_reinspect(
            tenant=self.tenant, rectification=rectification, inspector=request.user, **form.cleaned_data
        )
        return "复检已记录。"


class ChangeOrderCreateView(ProjectActionView):
    action_permission = "projects.change_order"
    form_name = "change_order_form"
    tab = "change_orders"

    def act(self, request):
        self.form = forms.ChangeOrderForm(request.POST)
        if not self.form.is_valid():
            return None
        change_orders_services.change_order_create(
            tenant=self.tenant, project=self.project, created_by=request.user, **self.form.cleaned_data
        )
        return "变更单草稿已创建。"


class ChangeOrderSendView(ProjectActionView):
    action_permission = "projects.change_order"
    tab = "change_orders"

    def act(self, request, change_order_id: int):
        change_order = get_object_or_404(ChangeOrder.objects.filter(project=self.project), pk=change_order_id)
        change_orders_services.change_order_send(
            tenant=self.tenant, change_order=change_order, sent_by=request.user
        )
        return "已发送给客户确认。"


class ChangeOrderDecideView(ProjectActionView):
    action_permission = "projects.change_order_decide"
    tab = "change_orders"

    def act(self, request, change_order_id: int):
        change_order = get_object_or_404(ChangeOrder.objects.filter(project=self.project), pk=change_order_id)
        form = forms.DecideForm(request.POST)
        if not form.is_valid():
            raise ValidationError({"channel": "请选择结果和客户确认方式。"})
        change_orders_services.change_order_decide(
            tenant=self.tenant, change_order=change_order, decided_by=request.user, **form.cleaned_data
        )
        return "已记录客户决定。"


class MaterialCreateView(ProjectActionView):
    action_permission = "projects.material"
    form_name = "material_form"
    tab = "materials"

    def act(self, request):
        self.form = forms.MaterialForm(request.POST)
        if not self.form.is_valid():
            return None
        materials.material_create(
            tenant=self.tenant, project=self.project, created_by=request.user, **self.form.cleaned_data
        )
        return "材料已登记。"


class MaterialReportView(ProjectActionView):
    action_permission = "projects.material"
    tab = "materials"

    def act(self, request, material_id: int):
        material = get_object_or_404(Material.objects.filter(project=self.project), pk=material_id)
        form = forms.MaterialReportForm(request.POST, request.FILES)
        if not form.is_valid():  # shown as a message: say what is wrong with the file, not just "invalid"
            raise ValidationError({name: errors.data for name, errors in form.errors.items()})
        materials.material_report_add(tenant=self.tenant, material=material, **form.cleaned_data)
        return "报告已上传。"


class CallbackCompleteView(ProjectActionView):
    action_permission = "projects.callback"
    tab = "callbacks"

    def act(self, request, callback_id: int):
        callback = get_object_or_404(
            ConstructionCallback.objects.filter(project=self.project), pk=callback_id
        )
        form = forms.CallbackForm(request.POST)
        if not form.is_valid():
            raise ValidationError({"satisfaction": "请选择满意度。"})
        callbacks.callback_complete(
            tenant=self.tenant, callback=callback, completed_by=request.user, **form.cleaned_data
        )
        return "回访已记录。"


class ShareLinkCreateView(ProjectActionView):
    action_permission = "projects.share"
    tab = "share"

    def act(self, request):
        form = forms.ShareLinkForm(request.POST)
        if not form.is_valid():
            raise ValidationError({"valid_days": "有效天数应在 1–365 之间。"})
        link, token = share.share_link_create(
            tenant=self.tenant, project=self.project, created_by=request.user, **form.cleaned_data
        )
        url = request.build_absolute_uri(reverse("projects:progress", args=[token]))
        context = detail_context(request, self.project, "share", new_link=url)
        return render(request, "projects/detail.html", context)


class ShareLinkRevokeView(ProjectActionView):
    action_permission = "projects.share"
    tab = "share"

    def act(self, request, link_id: int):
        link = get_object_or_404(ShareLink.objects.filter(project=self.project), pk=link_id)
        share.share_link_revoke(tenant=self.tenant, link=link, revoked_by=request.user)
        return "链接已吊销。"


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
        messages.success(request, "阶段模板已保存。")
        return redirect("projects:stage-settings")


# --- Public customer progress page ------------------------------------------------------------


class ProgressView(View):
    """No login: the token decides the one project shown; everything is read inside its tenant."""

    def dispatch(self, request, token: str, *args, **kwargs):
        try:
            ratelimit.hit("progress_ip", ratelimit.client_ident(request))
        except ratelimit.RateLimited as error:
            return ratelimit.rate_limited_response(request, error)
        link = selectors.resolve_share_link(token)
        if link is None:
            return render(request, "projects/progress_invalid.html", status=404)
        with tenant_context(link.tenant):
            link = ShareLink.objects.select_related("project__customer", "project__project_manager").get(
                pk=link.pk
            )
            self.link, self.tenant, self.token = link, link.tenant, token
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400 and response.status_code != 400:
                transaction.set_rollback(True)
        return response

    def context(self, **extra) -> dict:
        project = self.link.project
        settings = selectors.stage_settings(tenant=self.tenant)
        current = STAGE_ORDER.index(project.stage)
        timeline = [
            {
                "info": info,
                "state": "done" if info.index < current else ("current" if info.index == current else "todo"),
            }
            for info in settings
        ]
        entered = {
            row.to_stage: row.changed_at
            for row in StageHistory.objects.filter(project=project).order_by("changed_at", "id")
        }
        for entry in timeline:
            entry["entered_at"] = entered.get(entry["info"].key)
        change_orders = selectors.change_orders_for_project(project=project)
        return {
            "tenant": self.tenant,
            "project": project,
            "token": self.token,
            "timeline": timeline,
            "stage_name": settings[current].name,
            "logs": selectors.daily_logs_with_photos(project=project, limit=10),
            "inspections": selectors.inspections_for_project(project=project)[:10],
            "rectifications": selectors.open_rectifications(project=project),
            "materials": Material.objects.filter(project=project).prefetch_related("reports"),
            "pending": [co for co in change_orders if co.status == ChangeOrderStatus.SENT],
            "decided": [co for co in change_orders if co.is_decided],
            "budget": change_orders_services.project_budget(project=project),
            "link": self.link,
            **extra,
        }

    def get(self, request):
        ShareLink.objects.filter(pk=self.link.pk).update(last_viewed_at=timezone.now())
        return render(request, "projects/progress.html", self.context())


class ProgressChangeOrderView(ProgressView):
    """Approve/reject: step 1 sends an SMS code (``request``), step 2 checks it (``confirm``)."""

    http_method_names = ["post"]  # the inherited page GET does not take the step kwargs

    def post(self, request, change_order_id: int, step: str):
        change_order = ChangeOrder.objects.filter(project=self.link.project, pk=change_order_id).first()
        if change_order is None:
            raise Http404
        if step == "request":
            try:
                share.confirmation_code_request(
                    tenant=self.tenant,
                    link=self.link,
                    change_order=change_order,
                    decision=request.POST.get("decision", ""),
                )
            except share.CodeQuotaExceeded as error:
                response = render(
                    request,
                    "projects/progress.html",
                    self.context(co_error={change_order.pk: "；".join(error.messages)}),
                    status=429,
                )
                response["Retry-After"] = str(error.retry_after)
                return response
            except ValidationError as error:
                return render(
                    request,
                    "projects/progress.html",
                    self.context(co_error={change_order.pk: "；".join(error.messages)}),
                    status=400,
                )
            decision = request.POST.get("decision")
            return render(
                request, "projects/progress.html", self.context(code_for=(change_order.pk, decision))
            )
        if step == "confirm":
            try:
                share.confirmation_code_check(  # commits a failed attempt itself
                    tenant=self.tenant,
                    link=self.link,
                    change_order=change_order,
                    code=request.POST.get("code", ""),
                )
            except share.CodeRejected as error:
                return render(
                    request,
                    "projects/progress.html",
                    self.context(
                        code_for=(change_order.pk, request.POST.get("decision")),
                        co_error={change_order.pk: str(error)},
                    ),
                    status=400,
                )
            except ValidationError as error:
                return render(
                    request,
                    "projects/progress.html",
                    self.context(co_error={change_order.pk: "；".join(error.messages)}),
                    status=400,
                )
            return redirect(reverse("projects:progress", args=[self.token]) + f"#co-{change_order.pk}")
        raise Http404
