"""Payment pages: plans by what is overdue or outstanding, one plan with its receipts, the template."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from crm.access import get_for_user_or_404
from crm.forms import apply_service_errors
from crm.permissions import RoleRequiredMixin, has_permission
from crm.tenancy import require_tenant, tenant_today
from payments import selectors, services
from payments.forms import ReceiptForm, TemplateStepFormSet, VoidForm
from payments.models import SIGNING, PaymentPlan, PaymentReceipt
from projects.models import Stage


def _today():
    return tenant_today(require_tenant())


def trigger_choices() -> list[tuple[str, str]]:
    return [
        (SIGNING, _("签约时")),
        *[(s, _("进入“%(stage)s”阶段") % {"stage": Stage(s).label}) for s in services.TRIGGERS[1:]],
    ]


class PlanListView(RoleRequiredMixin, View):
    required_permission = "payments.view"

    def get(self, request):
        only = request.GET.get("only", "")
        plans = selectors.plans_for_list(today=_today())
        if only == "overdue":
            plans = plans.filter(overdue_fen__gt=0)
        elif only == "outstanding":
            plans = plans.filter(outstanding_fen__gt=0)
        return render(
            request,
            "payments/plan_list.html",
            {
                "plans": plans[:200],
                "only": only,
                "can_configure": has_permission(request.user, "payments.configure"),
            },
        )


class PlanDetailView(RoleRequiredMixin, View):
    required_permission = "payments.view"

    def _plan(self, request, pk: int) -> PaymentPlan:
        return get_for_user_or_404(selectors.plans_for_list(today=_today()), user=request.user, pk=pk)

    def get(self, request, pk: int, form=None, void_form=None, status=200):
        plan = self._plan(request, pk)
        milestones = selectors.plan_milestones(plan=plan, today=_today())
        context = {
            "plan": plan,
            "milestones": milestones,
            "receipts": selectors.plan_receipts(plan=plan),
            "changes": plan.changes.select_related("change_order"),
            "can_record": has_permission(request.user, "payments.record"),
            "form": form
            or ReceiptForm(
                milestones=[row.milestone for row in milestones], initial={"received_on": _today()}
            ),
            "void_form": void_form or VoidForm(),
        }
        return render(request, "payments/plan_detail.html", context, status=status)

    def post(self, request, pk: int):
        plan = self._plan(request, pk)
        if not has_permission(request.user, "payments.record"):
            return self.get(request, pk, status=403)
        tenant = require_tenant()
        if request.POST.get("action") == "void":
            void_form = VoidForm(request.POST)
            receipt_id = request.POST.get("receipt", "")
            receipt = get_for_user_or_404(
                PaymentReceipt,
                user=request.user,
                plan=plan,
                pk=int(receipt_id) if receipt_id.isdigit() and len(receipt_id) < 18 else 0,
            )
            if void_form.is_valid():
                try:
                    services.payment_receipt_void(
                        tenant=tenant,
                        receipt=receipt,
                        voided_by=request.user,
                        reason=void_form.cleaned_data["reason"],
                    )
                except ValidationError as error:
                    apply_service_errors(void_form, error)
                else:
                    messages.success(request, _("收款已作废。"))
                    return redirect("payments:detail", pk=plan.pk)
            return self.get(request, pk, void_form=void_form, status=400)
        milestones = list(plan.milestones.order_by("position"))
        form = ReceiptForm(request.POST, milestones=milestones)
        if form.is_valid():
            data = form.cleaned_data
            chosen = next((m for m in milestones if m.pk == data["milestone"]), None)
            try:
                services.payment_receipt_record(
                    tenant=tenant,
                    plan=plan,
                    amount_fen=data["amount_fen"],
                    method=data["method"],
                    received_on=data["received_on"],
                    receipt_number=data["receipt_number"],
                    note=data["note"],
                    milestone=chosen,
                    recorded_by=request.user,
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("已登记收款。"))
                return redirect("payments:detail", pk=plan.pk)
        return self.get(request, pk, form=form, status=400)


class TemplateView(RoleRequiredMixin, View):
    required_permission = "payments.configure"

    def get(self, request, formset=None, status=200):
        tenant = require_tenant()
        if formset is None:
            initial = [
                {
                    "name": s.name,
                    "share_percent": Decimal(s.share_bp) / 100,
                    "trigger": s.trigger,
                    "due_days": s.due_days,
                }
                for s in services.template_steps(tenant=tenant)
            ]
            initial += [{"due_days": 7}] * 2
            formset = TemplateStepFormSet(initial=initial, form_kwargs={"triggers": trigger_choices()})
        return render(request, "payments/template.html", {"formset": formset}, status=status)

    def post(self, request):
        tenant = require_tenant()
        formset = TemplateStepFormSet(request.POST, form_kwargs={"triggers": trigger_choices()})
        if formset.is_valid():
            steps = [
                services.Step(
                    name=row["name"],
                    share_bp=int((row["share_percent"] or 0) * 100),
                    trigger=row["trigger"],
                    due_days=row["due_days"] if row["due_days"] is not None else 7,
                )
                for row in formset.cleaned_data
                if row.get("name")
            ]
            try:
                services.payment_template_set(tenant=tenant, steps=steps, actor=request.user)
            except ValidationError as error:
                formset._non_form_errors = formset.error_class(error.messages)  # shown above the rows
            else:
                messages.success(request, _("收款计划模板已保存，对之后签约的项目生效。"))
                return redirect("payments:template")
        return self.get(request, formset=formset, status=400)
