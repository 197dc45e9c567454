"""The working-calendar page for managers: a year's exceptions, add or drop one, import a year."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from crm.access import get_for_user_or_404
from crm.forms import apply_service_errors
from crm.permissions import RoleRequiredMixin, has_permission
from crm.tenancy import require_tenant, tenant_today
from crm.validators import MAX_YEAR, MIN_YEAR
from crm.workdays import selectors, services
from crm.workdays.forms import CalendarDayForm, CalendarImportForm
from crm.workdays.models import CalendarDay


def _year(request) -> int:
    try:
        year = int(request.GET.get("year") or request.POST.get("year") or 0)
    except ValueError:
        year = 0
    if not MIN_YEAR <= year <= MAX_YEAR:
        year = tenant_today(require_tenant()).year
    return year


class CalendarView(RoleRequiredMixin, View):
    required_permission = "crm.view_calendar"
    template_name = "workdays/calendar.html"

    def get(self, request, day_form=None, import_form=None, status=200):
        year = _year(request)
        context = {
            "year": year,
            "days": selectors.calendar_days_for_year(year=year),
            "can_manage": has_permission(request.user, "crm.manage_calendar"),
            "day_form": day_form or CalendarDayForm(),
            "import_form": import_form or CalendarImportForm(),
        }
        return render(request, self.template_name, context, status=status)

    def post(self, request):
        if not has_permission(request.user, "crm.manage_calendar"):
            return self.get(request, status=403)
        tenant = require_tenant()
        year = _year(request)
        back = f"{reverse('workdays:calendar')}?year={year}"
        action = request.POST.get("action")
        if action == "delete":
            day_id = request.POST.get("day", "")
            day = get_for_user_or_404(
                CalendarDay,
                user=request.user,
                permission="crm.manage_calendar",
                pk=int(day_id) if day_id.isdigit() and len(day_id) < 18 else 0,
            )
            services.calendar_day_delete(tenant=tenant, day=day)
            messages.success(request, _("已删除 %(date)s。") % {"date": f"{day.date:%Y-%m-%d}"})
            return redirect(back)
        if action == "import":
            form = CalendarImportForm(request.POST)
            if form.is_valid():
                try:
                    entries = services.calendar_lines_parse(text=form.cleaned_data["text"], year=year)
                    written = services.calendar_year_import(tenant=tenant, year=year, entries=entries)
                except ValidationError as error:
                    apply_service_errors(form, error)
                else:
                    messages.success(
                        request, _("已导入 %(year)d 年的 %(n)d 个例外日。") % {"year": year, "n": written}
                    )
                    return redirect(back)
            return self.get(request, import_form=form, status=400)
        day_form = CalendarDayForm(request.POST)
        if day_form.is_valid():
            try:
                day = services.calendar_day_set(tenant=tenant, **day_form.cleaned_data)
            except ValidationError as error:
                apply_service_errors(day_form, error)
            else:
                messages.success(request, _("已保存 %(date)s。") % {"date": f"{day.date:%Y-%m-%d}"})
                return redirect(f"{reverse('workdays:calendar')}?year={day.date.year}")
        return self.get(request, day_form=day_form, status=400)
