"""Browser pages: the managers' dashboard (看板) and its per-panel Excel export. Thin: selectors work."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from analytics import cache as panel_cache
from analytics import selectors, services
from analytics.exports import panel_workbook
from analytics.forms import MonthlyPlanForm, MonthPickForm
from analytics.models import MonthlyReport
from analytics.periods import PRESETS
from analytics.scope import parse_scope
from analytics.selectors.sla import LIST_STATES, leads_for_list
from crm.extensions import dashboard_widgets
from crm.permissions import SELLS, RoleRequiredMixin, has_duty, has_permission
from crm.selectors import staff_of_tenant
from crm.tenancy import require_tenant
from customers.models import SourceChannel


def _staff_choices(tenant, *duties: str) -> list[list[tuple[int, str]]]:
    """The people of each roster (the sales team, the designers, the project managers): one query."""
    staff = staff_of_tenant(tenant=tenant)
    return [
        [(user.pk, user.display_name or user.username) for user in staff if has_duty(user, duty)]
        for duty in duties
    ]


class DashboardView(RoleRequiredMixin, View):
    """Charts and their numbers for the period and filters; a sales user sees their own figures."""

    required_permission = "analytics.view"

    def get(self, request):
        tenant = require_tenant()
        errors = {}
        try:
            scope = parse_scope(request.GET, tenant=tenant, user=request.user)
        except ValidationError as error:
            errors = error.message_dict
            scope = parse_scope({}, tenant=tenant, user=request.user)
        panels = panel_cache.dashboard(scope, refresh=request.GET.get("refresh") == "1")
        if not scope.restricted:  # a manager: keep this tenant's default views warm (analytics.tasks)
            panel_cache.note_manager_activity(tenant)
        sales_users, designers, pms = _staff_choices(
            tenant, SELLS, "projects.design_team", "projects.construction_team"
        )

        context = {
            "scope": scope,
            "panels": panels,
            "charts_data": [
                {"key": panel["key"], "tables": panel["tables"], "charts": panel["charts"]}
                for panel in panels
            ],
            "errors": errors,
            "params": request.GET if not errors else {},
            "presets": [(key, str(label)) for key, label in PRESETS.items()],
            "channels": SourceChannel.choices,
            "sales_users": sales_users,
            "designers": designers,
            "pms": pms,
            "querystring": scope.querystring(),
            "computed_at": min(
                (datetime.datetime.fromisoformat(panel["computed_at"]) for panel in panels),
                default=timezone.now(),
            ),
            "cache_minutes": max(1, panel_cache.cache_seconds() // 60),
            "can_manage_targets": has_permission(request.user, "analytics.manage_targets"),
            # The apps' own manager widgets stay below the panels (managers only) for the figures the
            # panels don't show yet (e.g. change orders awaiting customers, VIP reviews pending).
            "widgets": dashboard_widgets(request=request, tenant=tenant)
            if has_permission(request.user, "crm.view_dashboard")
            else [],
            "reports": list(MonthlyReport.objects.exclude(file="").order_by("-month")[:12])
            if has_permission(request.user, "analytics.view_all")
            else [],
        }
        return render(request, "analytics/dashboard.html", context, status=400 if errors else 200)


class SlaLeadListView(RoleRequiredMixin, View):
    """The leads behind one number of the SLA panel (period, channel, sales, hour, state): the count
    it shows is the panel's number (``analytics.selectors.sla.leads_for_list``)."""

    required_permission = "analytics.view"
    page_size = 50

    def get(self, request):
        tenant = require_tenant()
        try:
            scope = parse_scope(request.GET, tenant=tenant, user=request.user)
            hour, unassigned, state = _lead_list_params(request.GET)
        except ValidationError as error:
            return HttpResponse(
                "; ".join(error.messages), status=400, content_type="text/plain; charset=utf-8"
            )
        now = timezone.now()
        leads = leads_for_list(scope, now=now, hour=hour, unassigned=unassigned, state=state)
        page = Paginator(
            leads.select_related("customer", "assignee").order_by("-received_at", "-id"), self.page_size
        ).get_page(request.GET.get("page"))
        context = {
            "scope": scope,
            "page": page,
            "now": now,
            "hour": hour,
            "unassigned": unassigned,
            "state": state,
            "querystring": _without_page(request.GET),
            "dashboard_query": scope.querystring(),
        }
        return render(request, "analytics/sla_leads.html", context)


def _without_page(params) -> str:
    params = params.copy()
    params.pop("page", None)
    return params.urlencode()


def _lead_list_params(params) -> tuple[int | None, bool, str]:
    raw_hour = (params.get("hour") or "").strip()
    if raw_hour and not (raw_hour.isdigit() and 0 <= int(raw_hour) <= 23):
        raise ValidationError({"hour": ValidationError(_("时段应为 0–23 的整数。"), code="invalid_hour")})
    assignee = (params.get("assignee") or "").strip()
    if assignee not in ("", "none"):
        raise ValidationError({"assignee": ValidationError(_("未知的负责人筛选。"), code="invalid_assignee")})
    state = (params.get("state") or "").strip()
    if state and state not in LIST_STATES:
        raise ValidationError({"state": ValidationError(_("未知的线索状态。"), code="invalid_state")})
    return (int(raw_hour) if raw_hour else None), assignee == "none", state


class PanelExportView(RoleRequiredMixin, View):
    required_permission = "analytics.export"

    def get(self, request, panel: str):
        if panel not in selectors.PANELS:
            raise Http404
        tenant = require_tenant()
        try:
            scope = parse_scope(request.GET, tenant=tenant, user=request.user)
        except ValidationError as error:
            return HttpResponse(
                "; ".join(error.messages), status=400, content_type="text/plain; charset=utf-8"
            )
        data = panel_cache.panel(scope, panel)
        response = HttpResponse(
            panel_workbook(data),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        filename = f"{panel}-{scope.period.start:%Y%m%d}-{scope.period.last_day:%Y%m%d}.xlsx"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class MonthlyPlanView(RoleRequiredMixin, View):
    """Managers enter each month's sales targets (per user and team) and channel spend here."""

    required_permission = "analytics.manage_targets"

    def _month(self, request) -> datetime.date:
        pick = MonthPickForm(request.GET or None)
        if pick.is_bound and pick.is_valid():
            return pick.cleaned_data["month"]
        return timezone.localdate(timezone=require_tenant().zoneinfo).replace(day=1)

    def _render(self, request, form, status=200):
        context = {"form": form, "month": form.month, "pick": MonthPickForm(initial={"month": form.month})}
        return render(request, "analytics/targets.html", context, status=status)

    def _form(self, request, data=None):

        tenant = require_tenant()
        sales = staff_of_tenant(tenant=tenant, duty=SELLS)
        return MonthlyPlanForm(data, month=self._month(request), sales_users=sales)

    def get(self, request):
        return self._render(request, self._form(request))

    def post(self, request):
        form = self._form(request, request.POST)
        if not form.is_valid():
            return self._render(request, form, status=400)
        try:
            services.monthly_plan_save(
                tenant=require_tenant(),
                actor=request.user,
                month=form.month,
                targets=form.targets(),
                spend=form.spend(),
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
            return self._render(request, form, status=400)
        messages.success(request, _("已保存 %(month)s 的目标与投放。") % {"month": f"{form.month:%Y-%m}"})
        return redirect(f"{request.path}?month={form.month:%Y-%m}")


class MonthlyReportDownloadView(RoleRequiredMixin, View):
    """A stored monthly report (managers; another tenant's report is 404)."""

    required_permission = "analytics.view_all"

    def get(self, request, pk: int):
        report = MonthlyReport.objects.filter(pk=pk).exclude(file="").first()
        if report is None:
            raise Http404
        return FileResponse(
            report.file.open("rb"),
            as_attachment=True,
            filename=f"monthly-report-{report.month:%Y-%m}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
