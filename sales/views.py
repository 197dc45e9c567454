"""Browser pages of sales: the day / week calendar per person or per team, and the forms that book,
move and close appointments and add, complete and hand over tasks (the same services as the API)."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View

from crm.forms import apply_service_errors
from crm.models import User
from crm.permissions import RoleRequiredMixin
from crm.tenancy import require_tenant
from customers.visibility import customers_visible_to, visible_customer_or_404
from sales import forms, selectors, services
from sales.models import Appointment, AppointmentStatus


def _parse_date(value: str | None) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value or "")
    except ValueError:
        return timezone.localdate()


class CalendarView(RoleRequiredMixin, View):
    """``?view=day|week&date=YYYY-MM-DD`` and ``?staff=<id>`` or ``?team=<name>`` (default: my week)."""

    required_permission = "sales.view"

    def get(self, request):
        tenant = require_tenant()
        mode = "day" if request.GET.get("view") == "day" else "week"
        day = _parse_date(request.GET.get("date"))
        start = day if mode == "day" else day - datetime.timedelta(days=day.weekday())
        days = 1 if mode == "day" else 7
        team = request.GET.get("team", "").strip()[:50]
        person = None
        if not team:
            person = (
                User.objects.filter(tenant=tenant, is_active=True, pk=request.GET.get("staff")).first()
                if (request.GET.get("staff") or "").isdigit()
                else None
            ) or request.user
        staff = list(selectors.calendar_staff(tenant=tenant, person=person, team=team))
        appointments = selectors.calendar_appointments(
            user=request.user, staff_ids=[user.pk for user in staff], start=start, days=days
        )
        tasks = selectors.calendar_tasks(
            user=request.user, staff_ids=[user.pk for user in staff], start=start, days=days
        )
        columns = []
        for offset in range(days):
            date = start + datetime.timedelta(days=offset)
            columns.append(
                {
                    "date": date,
                    "is_today": date == timezone.localdate(),
                    "appointments": [
                        a for a in appointments if timezone.localtime(a.starts_at).date() == date
                    ],
                    "tasks": [t for t in tasks if timezone.localtime(t.due_at).date() == date],
                }
            )
        step = datetime.timedelta(days=days)
        teams = (
            User.objects.filter(tenant=tenant, is_active=True)
            .exclude(team="")
            .values_list("team", flat=True)
            .distinct()
            .order_by("team")
        )
        return render(
            request,
            "sales/calendar.html",
            {
                "mode": mode,
                "columns": columns,
                "person": person,
                "team": team,
                "teams": list(teams),
                "people": User.objects.filter(tenant=tenant, is_active=True).order_by(
                    "display_name", "username"
                ),
                "previous": start - step,
                "next": start + step,
                "today": timezone.localdate(),
                "now": timezone.now(),
            },
        )


def _next_url(request, fallback: str) -> str:
    """Where to go after a form: the page it was opened from (same host only), else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _day_url(appointment: Appointment) -> str:
    local = timezone.localtime(appointment.starts_at)
    return reverse("sales:calendar") + f"?view=day&date={local:%Y-%m-%d}&staff={appointment.staff_id}"


def _customer_from_query(request):
    """The customer the form was opened from (``?customer=``), if the user may see it; else none."""
    raw = request.GET.get("customer") or request.POST.get("customer_from") or ""
    if not raw:
        return None
    if not raw.isdigit():
        raise Http404(_("客户不存在。"))
    return visible_customer_or_404(request.user, int(raw))


def _visible_or_404(queryset, pk: int):
    try:
        return queryset.get(pk=pk)
    except queryset.model.DoesNotExist:
        raise Http404(_("记录不存在。")) from None


class AppointmentCreateView(RoleRequiredMixin, View):
    """Book an appointment: from a customer (``?customer=``), a project (``&project=``) or the calendar."""

    required_permission = "sales.schedule"

    def _form(self, request, data=None):
        tenant = require_tenant()
        customer = _customer_from_query(request)
        initial: dict = {"staff": request.user.pk, "remind_before": 60}
        if request.GET.get("project", "").isdigit():
            initial["project"] = int(request.GET["project"])
        day = request.GET.get("date", "")
        try:
            start = datetime.datetime.combine(datetime.date.fromisoformat(day), datetime.time(10))
        except ValueError:
            start = None
        if start is not None:
            initial["starts_at"] = start
            initial["ends_at"] = start + datetime.timedelta(hours=1)
        return customer, forms.AppointmentForm(
            data,
            tenant=tenant,
            customers=customers_visible_to(request.user),
            customer=customer,
            initial=initial,
        )

    def _render(self, request, form, customer, status=200):
        return render(
            request,
            "sales/appointment_form.html",
            {"form": form, "customer": customer, "next": _next_url(request, "")},
            status=status,
        )

    def get(self, request):
        customer, form = self._form(request)
        return self._render(request, form, customer)

    def post(self, request):
        customer, form = self._form(request, request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                appointment = services.appointment_create(
                    tenant=require_tenant(),
                    actor=request.user,
                    customer=data["customer"],
                    project=data["project"],
                    kind=data["kind"],
                    place=data["place"],
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    staff=data["staff"],
                    participants=list(data["participants"]),
                    note=data["note"],
                    remind_before=datetime.timedelta(minutes=data["remind_before"]),
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("预约已创建。"))
                return HttpResponseRedirect(_next_url(request, _day_url(appointment)))
        return self._render(request, form, customer, status=400)


class AppointmentDetailView(RoleRequiredMixin, View):
    """One appointment with its reschedule history; forms to move it and to close it."""

    required_permission = "sales.view"

    def get(self, request, pk: int, reschedule_form=None, close_form=None, status=200):
        appointment = _visible_or_404(
            selectors.appointments_visible_to(request.user).select_related("customer", "staff", "project"),
            pk,
        )
        local_start = timezone.localtime(appointment.starts_at)
        local_end = timezone.localtime(appointment.ends_at)
        return render(
            request,
            "sales/appointment_detail.html",
            {
                "appointment": appointment,
                "participants": list(appointment.participants.all()),
                "changes": appointment.changes.select_related("changed_by"),
                "is_open": appointment.status == AppointmentStatus.SCHEDULED,
                "reschedule_form": reschedule_form
                or forms.RescheduleForm(
                    initial={
                        "starts_at": local_start.replace(tzinfo=None),
                        "ends_at": local_end.replace(tzinfo=None),
                    }
                ),
                "close_form": close_form or forms.CloseAppointmentForm(),
                "day_url": _day_url(appointment),
            },
            status=status,
        )


class AppointmentRescheduleView(RoleRequiredMixin, View):
    required_permission = "sales.schedule"

    def post(self, request, pk: int):
        appointment = _visible_or_404(selectors.appointments_visible_to(request.user), pk)
        form = forms.RescheduleForm(request.POST)
        if form.is_valid():
            try:
                services.appointment_reschedule(
                    tenant=require_tenant(), actor=request.user, appointment=appointment, **form.cleaned_data
                )
            except ValidationError as error:
                apply_service_errors(form, error, {"status": "__all__"})
            else:
                messages.success(request, _("预约已改期。"))
                return redirect("sales:appointment", pk=pk)
        return AppointmentDetailView().get(request, pk, reschedule_form=form, status=400)


class AppointmentCloseView(RoleRequiredMixin, View):
    """Mark done, record a no-show or cancel (one form, the action names the service)."""

    required_permission = "sales.schedule"
    SERVICES = {
        "done": (services.appointment_complete, _("预约已完成。")),
        "no_show": (services.appointment_mark_no_show, _("已登记客户爽约。")),
        "cancel": (services.appointment_cancel, _("预约已取消。")),
    }

    def post(self, request, pk: int):
        appointment = _visible_or_404(selectors.appointments_visible_to(request.user), pk)
        form = forms.CloseAppointmentForm(request.POST)
        if form.is_valid():
            service, message = self.SERVICES[form.cleaned_data["action"]]
            try:
                service(
                    tenant=require_tenant(),
                    actor=request.user,
                    appointment=appointment,
                    outcome=form.cleaned_data["outcome"],
                )
            except ValidationError as error:
                apply_service_errors(form, error, {"status": "action"})
            else:
                messages.success(request, message)
                return redirect("sales:appointment", pk=pk)
        return AppointmentDetailView().get(request, pk, close_form=form, status=400)


class TaskListView(RoleRequiredMixin, View):
    """My open tasks (``?assignee=<id>`` for a colleague's), overdue first; complete or hand over."""

    required_permission = "sales.view"

    def get(self, request):
        tenant = require_tenant()
        raw = request.GET.get("assignee", "")
        assignee = (
            User.objects.filter(tenant=tenant, pk=int(raw)).first() if raw.isdigit() else None
        ) or request.user
        tasks = list(
            selectors.tasks_visible_to(request.user)
            .filter(assignee=assignee, done_at__isnull=True)
            .select_related("customer", "project")
            .order_by("due_at", "id")[:200]
        )
        return render(
            request,
            "sales/task_list.html",
            {
                "tasks": tasks,
                "assignee": assignee,
                "people": User.objects.filter(tenant=tenant, is_active=True).order_by(
                    "display_name", "username"
                ),
                "now": timezone.now(),
            },
        )


class TaskCreateView(RoleRequiredMixin, View):
    required_permission = "sales.schedule"

    def _form(self, request, data=None):
        customer = _customer_from_query(request)
        initial: dict = {"assignee": request.user.pk}
        if request.GET.get("project", "").isdigit():
            initial["project"] = int(request.GET["project"])
        return customer, forms.TaskForm(
            data,
            tenant=require_tenant(),
            customers=customers_visible_to(request.user),
            customer=customer,
            initial=initial,
        )

    def _render(self, request, form, customer, status=200):
        return render(
            request,
            "sales/task_form.html",
            {"form": form, "customer": customer, "next": _next_url(request, "")},
            status=status,
        )

    def get(self, request):
        customer, form = self._form(request)
        return self._render(request, form, customer)

    def post(self, request):
        customer, form = self._form(request, request.POST)
        if form.is_valid():
            try:
                services.task_create(tenant=require_tenant(), actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("待办已创建。"))
                return HttpResponseRedirect(_next_url(request, reverse("sales:tasks")))
        return self._render(request, form, customer, status=400)


class TaskCompleteView(RoleRequiredMixin, View):
    required_permission = "sales.schedule"

    def post(self, request, pk: int):
        task = _visible_or_404(selectors.tasks_visible_to(request.user), pk)
        services.task_complete(tenant=require_tenant(), actor=request.user, task=task)
        messages.success(request, _("待办已完成。"))
        return HttpResponseRedirect(_next_url(request, reverse("sales:tasks")))


class TaskReassignView(RoleRequiredMixin, View):
    required_permission = "sales.schedule"

    def post(self, request, pk: int):
        tenant = require_tenant()
        task = _visible_or_404(selectors.tasks_visible_to(request.user), pk)
        form = forms.ReassignTaskForm(request.POST, tenant=tenant)
        if form.is_valid():
            try:
                services.task_reassign(
                    tenant=tenant, actor=request.user, task=task, assignee=form.cleaned_data["assignee"]
                )
            except ValidationError as error:
                messages.error(request, _("；").join(error.messages))
            else:
                messages.success(request, _("待办已转交。"))
        else:
            messages.error(request, _("请选择新负责人。"))
        return HttpResponseRedirect(_next_url(request, reverse("sales:tasks")))
