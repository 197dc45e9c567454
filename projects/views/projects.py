"""Project list, board, create/edit and detail pages."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from crm.forms import apply_service_errors
from crm.permissions import RoleRequiredMixin, has_permission
from crm.tenancy import require_tenant
from customers.visibility import rows_visible_to
from projects import forms, selectors
from projects.models import (
    Project,
)
from projects.services import (
    projects,
)
from projects.views._common import TABS, detail_context


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
        queryset = rows_visible_to(request.user, queryset)
        page = Paginator(queryset, 25).get_page(request.GET.get("page"))
        for project in page.object_list:
            project.stage_name = names[project.stage]
            project.overdue = selectors.is_overdue(project, settings)
            project.budget = (project.contract_amount_fen or 0) + (project.approved_delta or 0)
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
            request,
            "projects/board.html",
            {"columns": selectors.board_columns(tenant=require_tenant(), user=request.user)},
        )


class ProjectCreateView(RoleRequiredMixin, View):
    required_permission = "projects.edit"

    def get(self, request, form=None):
        tenant = require_tenant()
        initial = {"customer": request.GET.get("customer")} if request.GET.get("customer") else None
        form = form or forms.ProjectForm(tenant=tenant, user=request.user, initial=initial)
        return render(request, "projects/form.html", {"form": form})

    def post(self, request):
        tenant = require_tenant()
        form = forms.ProjectForm(request.POST, tenant=tenant, user=request.user)
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
            apply_service_errors(form, error)
            return self.get(request, form=form)
        messages.success(request, _("项目已创建。"))
        return redirect("projects:detail", pk=project.pk)


class ProjectEditView(RoleRequiredMixin, View):
    """Edit details and team through ``project_update`` (the same rules as API PATCH)."""

    required_permission = "projects.edit"

    def get(self, request, pk: int, form=None):
        project = get_object_or_404(rows_visible_to(request.user, Project.objects.all()), pk=pk)
        form = form or forms.ProjectEditForm(instance=project, tenant=require_tenant())
        context = {"form": form, "project": project}
        return render(request, "projects/form.html", context, status=400 if form.errors else 200)

    def post(self, request, pk: int):
        tenant = require_tenant()
        project = get_object_or_404(rows_visible_to(request.user, Project.objects.all()), pk=pk)
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
                apply_service_errors(form, error)
            else:
                messages.success(request, _("项目已保存。"))
                return redirect("projects:detail", pk=project.pk)
        return self.get(request, pk, form=form)


class ProjectDetailView(RoleRequiredMixin, View):
    required_permission = "projects.view"

    def get(self, request, pk: int):
        tab = request.GET.get("tab", "stages")
        if tab not in dict(TABS):
            tab = "stages"
        project = get_object_or_404(selectors.projects_for_detail(user=request.user, tab=tab), pk=pk)
        return render(request, "projects/detail.html", detail_context(request, project, tab))
