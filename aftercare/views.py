"""Aftercare pages: service calendar, plan detail with visit forms, ticket queue, survey results,
and the customer's public one-time survey page."""

from __future__ import annotations

import datetime
from collections import OrderedDict

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from aftercare import forms, selectors
from aftercare.models import TICKET_TRANSITIONS, ServiceTicket, TicketSource, Visit, VisitStatus
from aftercare.services import dates, settings
from aftercare.services import plans as plans_services
from aftercare.services import tickets as tickets_services
from aftercare.services import visits as visits_services
from crm import ratelimit
from crm.forms import apply_service_errors
from crm.permissions import RoleRequiredMixin, has_duty, has_permission
from crm.selectors import staff_queryset
from crm.tenancy import require_tenant, tenant_context
from crm.uploads import images_from_request
from customers.visibility import rows_visible_to
from projects.selectors import resolve_share_link


class HomeView(RoleRequiredMixin, View):
    """Upcoming and overdue visits per service user (list grouped by month = a simple calendar)."""

    required_permission = "aftercare.view"

    def get(self, request):
        tenant = require_tenant()
        today = dates.tenant_today(tenant)
        staff = list(staff_queryset(tenant=tenant))
        assignee_param = request.GET.get("assignee")
        if assignee_param is None and has_duty(request.user, "aftercare.handle_visits"):
            assignee_param = str(request.user.pk)
        assignee = next((user for user in staff if str(user.pk) == assignee_param), None)
        plans = list(
            rows_visible_to(
                request.user,
                selectors.plans_upcoming_and_overdue(tenant=tenant, today=today, assignee=assignee),
            )[:300]
        )
        overdue = [plan for plan in plans if plan.due_on < today]
        months: OrderedDict[str, list] = OrderedDict()
        for plan in plans:
            if plan.due_on >= today:
                months.setdefault(plan.due_on.strftime("%Y年%m月"), []).append(plan)
        upcoming_visits = rows_visible_to(request.user, selectors.visits_for_list(tenant=tenant)).filter(
            status=VisitStatus.SCHEDULED, scheduled_at__gte=timezone.now() - datetime.timedelta(days=1)
        )
        if assignee is not None:
            upcoming_visits = upcoming_visits.filter(technician=assignee)
        context = {
            "today": today,
            "staff": staff,
            "assignee": assignee,
            "overdue": overdue,
            "months": months,
            "visits": list(upcoming_visits.order_by("scheduled_at")[:50]),
            "active_tickets": rows_visible_to(request.user, selectors.tickets_active(tenant=tenant)).count(),
        }
        return render(request, "aftercare/home.html", context)


class PlanDetailView(RoleRequiredMixin, View):
    required_permission = "aftercare.view"

    def _context(self, request, plan, **forms_):
        tenant = require_tenant()
        visits = list(selectors.visits_for_list(tenant=tenant).filter(plan=plan))
        open_visit = next((visit for visit in visits if visit.status == VisitStatus.SCHEDULED), None)
        context = {
            "plan": plan,
            "visits": visits,
            "open_visit": open_visit,
            "today": dates.tenant_today(tenant),
            "signature_caption": visits_services.SIGNATURE_CAPTION,
            "can_edit": has_permission(request.user, "aftercare.edit"),
            "book_form": forms_.get("book_form")
            or forms.VisitBookForm(tenant=tenant, initial={"technician": plan.assigned_to_id}),
            "plan_form": forms_.get("plan_form")
            or forms.PlanUpdateForm(
                tenant=tenant,
                initial={
                    "assigned_to": plan.assigned_to_id,
                    "customer_reminder_consent": plan.customer_reminder_consent,
                },
            ),
        }
        if open_visit is not None:
            context["complete_form"] = forms_.get("complete_form") or forms.VisitCompleteForm(
                checklist=open_visit.checklist_results
            )
        return context

    def get(self, request, pk: int, **forms_):
        plan = get_object_or_404(
            rows_visible_to(request.user, selectors.plans_for_list(tenant=require_tenant())), pk=pk
        )
        return render(request, "aftercare/plan_detail.html", self._context(request, plan, **forms_))


class PlanEditMixin(RoleRequiredMixin):
    required_permission = "aftercare.edit"

    def plan(self, pk):
        return get_object_or_404(
            rows_visible_to(self.request.user, selectors.plans_for_list(tenant=require_tenant())), pk=pk
        )

    def rerender(self, request, plan, status=400, **forms_):
        response = render(
            request, "aftercare/plan_detail.html", PlanDetailView()._context(request, plan, **forms_)
        )
        response.status_code = status
        return response


class VisitBookView(PlanEditMixin, View):
    def post(self, request, pk: int):
        tenant = require_tenant()
        plan = self.plan(pk)
        form = forms.VisitBookForm(request.POST, tenant=tenant)
        if form.is_valid():
            try:
                visits_services.visit_create(
                    tenant=tenant,
                    plan=plan,
                    scheduled_at=form.cleaned_data["scheduled_at"],
                    technician=form.cleaned_data["technician"],
                    created_by=request.user,
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("已预约回访。"))
                return redirect("aftercare:plan-detail", pk=plan.pk)
        return self.rerender(request, plan, book_form=form)


class VisitCompleteView(PlanEditMixin, View):
    def post(self, request, pk: int):
        tenant = require_tenant()
        visit = get_object_or_404(rows_visible_to(request.user, Visit.objects.all()), pk=pk)
        plan = self.plan(visit.plan_id)
        form = forms.VisitCompleteForm(request.POST, request.FILES, checklist=visit.checklist_results)
        images = []
        if form.is_valid():
            try:
                images = images_from_request(request.FILES, "photos")
            except ValidationError as error:
                form.add_error("photos", error)
        if form.is_valid():
            try:
                visits_services.visit_complete(
                    tenant=tenant,
                    visit=visit,
                    completed_by=request.user,
                    checklist_results=form.checklist_results(),
                    findings=form.cleaned_data["findings"],
                    customer_confirmed=form.cleaned_data["customer_confirmed"],
                    customer_signature=form.cleaned_data["customer_signature"],
                    satisfaction=form.cleaned_data["satisfaction"],
                    renovation_interest=form.cleaned_data["renovation_interest"],
                    photos=images,
                    signature_image=form.cleaned_data["signature_image"],
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("回访已完成，计划已关闭。"))
                return redirect("aftercare:plan-detail", pk=plan.pk)
        return self.rerender(request, plan, complete_form=form)


class PlanUpdateView(PlanEditMixin, View):
    def post(self, request, pk: int):
        tenant = require_tenant()
        plan = self.plan(pk)
        form = forms.PlanUpdateForm(request.POST, tenant=tenant)
        if form.is_valid():
            plans_services.plan_update(
                tenant=tenant,
                plan=plan,
                assigned_to=form.cleaned_data["assigned_to"],
                customer_reminder_consent=form.cleaned_data["customer_reminder_consent"],
            )
            messages.success(request, _("已保存。"))
            return redirect("aftercare:plan-detail", pk=plan.pk)
        return self.rerender(request, plan, plan_form=form)


class TicketQueueView(RoleRequiredMixin, View):
    """Active tickets, most urgent due time first; recently closed below."""

    required_permission = "aftercare.view"

    def get(self, request, form=None, status=200):
        tenant = require_tenant()
        show = request.GET.get("show", "active")
        tickets = (
            selectors.tickets_active(tenant=tenant)
            if show == "active"
            else selectors.tickets_by_sla(tenant=tenant)
        )
        context = {
            "tickets": list(rows_visible_to(request.user, tickets)[:200]),
            "show": show,
            "now": timezone.now(),
            "form": form or forms.TicketForm(tenant=tenant, user=request.user),
            "can_edit": has_permission(request.user, "aftercare.edit"),
        }
        response = render(request, "aftercare/tickets.html", context)
        response.status_code = status
        return response

    def post(self, request):
        if not has_permission(request.user, "aftercare.edit"):
            return self.get(request, status=403)
        tenant = require_tenant()
        form = forms.TicketForm(request.POST, request.FILES, tenant=tenant, user=request.user)
        images = []
        if form.is_valid():
            try:
                images = images_from_request(request.FILES, "photos")
            except ValidationError as error:
                form.add_error(None, error)
        if form.is_valid():
            try:
                ticket = tickets_services.ticket_create(
                    tenant=tenant,
                    project=form.cleaned_data["project"],
                    category=form.cleaned_data["category"],
                    description=form.cleaned_data["description"],
                    priority=form.cleaned_data["priority"],
                    materials=form.cleaned_data["materials"],
                    source=TicketSource.STAFF,
                    created_by=request.user,
                    assigned_to=form.cleaned_data["assigned_to"],
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                if images:
                    tickets_services.ticket_photos_add(tenant=tenant, ticket=ticket, images=images)
                messages.success(request, _("已创建工单 #%(pk)s。") % {"pk": ticket.pk})
                return redirect("aftercare:ticket-detail", pk=ticket.pk)
        return self.get(request, form=form, status=400)


class TicketDetailView(RoleRequiredMixin, View):
    required_permission = "aftercare.view"

    def get(self, request, pk: int, form=None, status=200):
        tenant = require_tenant()
        ticket = get_object_or_404(
            rows_visible_to(
                request.user,
                selectors.tickets_by_sla(tenant=tenant).prefetch_related("events__actor", "photos"),
            ),
            pk=pk,
        )
        allowed = sorted(TICKET_TRANSITIONS.get(ticket.status, set()))
        context = {
            "ticket": ticket,
            "now": timezone.now(),
            "form": form or forms.TicketTransitionForm(tenant=tenant, allowed=allowed),
            "can_edit": has_permission(request.user, "aftercare.edit") and allowed,
        }
        response = render(request, "aftercare/ticket_detail.html", context)
        response.status_code = status
        return response

    def post(self, request, pk: int):
        if not has_permission(request.user, "aftercare.edit"):
            return self.get(request, pk, status=403)
        tenant = require_tenant()
        ticket = get_object_or_404(
            rows_visible_to(request.user, selectors.tickets_by_sla(tenant=tenant)), pk=pk
        )
        form = forms.TicketTransitionForm(request.POST, tenant=tenant)
        if form.is_valid():
            try:
                tickets_services.ticket_transition(
                    tenant=tenant,
                    ticket=ticket,
                    to_status=form.cleaned_data["status"],
                    actor=request.user,
                    note=form.cleaned_data["note"],
                    assigned_to=form.cleaned_data["assigned_to"],
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("工单状态已更新。"))
                return redirect("aftercare:ticket-detail", pk=ticket.pk)
        return self.get(request, pk, form=form, status=400)


class SurveyResultsView(RoleRequiredMixin, View):
    required_permission = "surveys.view"

    def get(self, request):
        tenant = require_tenant()
        context = {
            "results": selectors.survey_results(tenant=tenant),
            "recent": list(
                rows_visible_to(request.user, selectors.surveys_for_list(tenant=tenant)).exclude(
                    answered_at=None
                )[:30]
            ),
        }
        return render(request, "aftercare/surveys.html", context)


class PublicSurveyView(View):
    """The customer's one-time link: no login; the token finds the tenant (see services)."""

    template_name = "aftercare/survey_public.html"

    def _survey(self, token):
        from aftercare.api import public_survey_tenant
        from aftercare.models import Survey

        tenant = public_survey_tenant(token)
        if tenant is None:
            return None, None
        with tenant_context(tenant):
            survey = Survey.objects.select_related("project").filter(token=token).first()
        return tenant, survey

    def get(self, request, token: str, form=None, status=200, done=False):
        tenant, survey = self._survey(token)
        if survey is None:
            return render(request, self.template_name, {"invalid": True}, status=404)
        problem = ""
        if survey.answered_at is not None and not done:
            problem = _("该问卷已提交过，感谢您的反馈。")
        elif survey.expires_at <= timezone.now():
            problem = _("问卷链接已过期。")
        context = {
            "tenant": tenant,
            "survey": survey,
            "form": form or forms.SurveyAnswerForm(),
            "scores": list(range(survey.min_score, survey.max_score + 1)),
            "problem": problem,
            "done": done,
        }
        return render(request, self.template_name, context, status=status)

    def post(self, request, token: str):
        from aftercare.api import answer_public_survey

        form = forms.SurveyAnswerForm(request.POST)
        if form.is_valid():
            try:
                answer_public_survey(
                    token=token, score=form.cleaned_data["score"], comment=form.cleaned_data["comment"]
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                return self.get(request, token, done=True)
        return self.get(request, token, form=form, status=400)


class SettingsView(RoleRequiredMixin, View):
    """Managers edit plan kinds (checklist templates, a 6-month check …), reminder offsets and warranty."""

    required_permission = "aftercare.manage"

    def get(self, request, settings_form=None, kind_form=None, status=200):
        from aftercare.models import PlanKind

        tenant = require_tenant()
        config = settings.aftercare_settings_get(tenant=tenant)
        kinds = plans_services.plan_kinds_ensure_defaults(tenant=tenant) and list(PlanKind.objects.all())
        settings_form = settings_form or forms.AftercareSettingsForm(
            initial={
                "reminder_offsets_days": ",".join(str(day) for day in config.offsets()),
                "escalation_days_overdue": config.escalation_days_overdue,
                "warranty_general": config.warranty_years_for("general"),
                "warranty_waterproofing": config.warranty_years_for("waterproofing"),
                "survey_link_days": config.survey_link_days,
                **forms.AftercareSettingsForm.initial_sla(config),
            }
        )
        edit_forms = [
            (
                kind,
                forms.PlanKindForm(
                    prefix=f"k{kind.pk}",
                    lock_code=True,
                    initial={
                        "code": kind.code,
                        "name": kind.name,
                        "months_after_handover": kind.months_after_handover,
                        "checklist": "\n".join(kind.checklist),
                        "creates_renovation_lead": kind.creates_renovation_lead,
                        "is_active": kind.is_active,
                    },
                ),
            )
            for kind in kinds
        ]
        context = {
            "settings_form": settings_form,
            "kind_form": kind_form or forms.PlanKindForm(prefix="new"),
            "edit_forms": edit_forms,
        }
        return render(request, "aftercare/settings.html", context, status=status)

    def post(self, request):
        tenant = require_tenant()
        if "save_settings" in request.POST:
            form = forms.AftercareSettingsForm(request.POST)
            if form.is_valid():
                config = settings.aftercare_settings_get(tenant=tenant)
                warranty = dict(config.warranty_years or {})
                warranty["general"] = form.cleaned_data["warranty_general"]
                warranty["waterproofing"] = form.cleaned_data["warranty_waterproofing"]
                try:
                    settings.aftercare_settings_update(
                        tenant=tenant,
                        reminder_offsets_days=form.cleaned_data["reminder_offsets_days"],
                        escalation_days_overdue=form.cleaned_data["escalation_days_overdue"],
                        warranty_years=warranty,
                        sla_hours=form.cleaned_sla_hours(),
                        survey_link_days=form.cleaned_data["survey_link_days"],
                    )
                except ValidationError as error:
                    apply_service_errors(form, error)
                else:
                    messages.success(request, _("售后设置已保存。"))
                    return redirect("aftercare:settings")
            return self.get(request, settings_form=form, status=400)
        from aftercare.models import PlanKind

        prefix = request.POST.get("kind_prefix", "new")
        kind = None
        if prefix != "new":
            kind = get_object_or_404(
                PlanKind.objects.all(), pk=prefix.removeprefix("k") if prefix[1:].isdigit() else 0
            )
        form = forms.PlanKindForm(
            request.POST,
            prefix=prefix,
            initial={"code": kind.code} if kind is not None else None,
            lock_code=bool(kind),
        )
        if form.is_valid():
            try:
                plans_services.plan_kind_save(tenant=tenant, **form.cleaned_data)
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(
                    request,
                    _("回访类型“%(name)s”已保存，对之后交付的项目生效。")
                    % {"name": form.cleaned_data["name"]},
                )
                return redirect("aftercare:settings")
        if kind is not None:
            messages.error(
                request,
                _("回访类型未保存：") + _("；").join(str(e) for errs in form.errors.values() for e in errs),
            )
        return self.get(request, kind_form=form if prefix == "new" else None, status=400)


class CustomerReportView(View):
    """The customer's repair request from the progress-page link (projects' share token): no login,
    the token decides the one project; the ticket is marked source "customer"."""

    template_name = "aftercare/customer_report.html"

    def _link(self, token):
        return resolve_share_link(token)

    def get(self, request, token: str, form=None, status=200, done=None):
        link = self._link(token)
        if link is None:
            return render(request, self.template_name, {"invalid": True}, status=404)
        with tenant_context(link.tenant):
            from projects.models import Project

            project = Project.objects.get(pk=link.project_id)
            received = request.GET.get("received", "")
            if done is None and received.isdigit():
                # After the redirect (post/redirect/get): reloading shows the receipt, never re-submits.
                done = ServiceTicket.objects.filter(pk=int(received), project_id=project.pk).first()
            context = {
                "tenant": link.tenant,
                "project": project,
                "form": form or forms.CustomerTicketForm(),
                "done": done,
            }
            return render(request, self.template_name, context, status=status)

    def post(self, request, token: str):
        from aftercare.models import TicketPriority

        try:
            ratelimit.hit("aftercare_public_ip", ratelimit.client_ident(request))
        except ratelimit.RateLimited as error:
            return ratelimit.rate_limited_response(request, error)
        link = self._link(token)
        if link is None:
            return render(request, self.template_name, {"invalid": True}, status=404)
        form = forms.CustomerTicketForm(request.POST)
        if not form.is_valid():
            return self.get(request, token, form=form, status=400)
        with tenant_context(link.tenant):
            from projects.models import Project

            try:
                ticket = tickets_services.ticket_create(
                    tenant=link.tenant,
                    project=Project.objects.get(pk=link.project_id),
                    category=form.cleaned_data["category"],
                    description=form.cleaned_data["description"],
                    priority=TicketPriority.URGENT if form.cleaned_data["urgent"] else TicketPriority.NORMAL,
                    source=TicketSource.CUSTOMER,
                )
            except ValidationError as error:
                apply_service_errors(form, error)
                return self.get(request, token, form=form, status=400)
        return redirect(f"{request.path}?received={ticket.pk}")
