"""Browser pages of duplicate merge (side by side, field by field), merge records with undo, and bulk
reassignment (issue 14 §2–3). Thin: ``customers.services.merge`` / ``reassign`` do the work."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from crm.forms import apply_service_errors
from crm.models import User
from crm.money import format_fen
from crm.permissions import RoleRequiredMixin
from crm.tenancy import require_tenant
from customers import selectors
from customers.forms import MergeFieldsForm, MergePickForm, ReassignForm
from customers.models import Customer, LeadStatus
from customers.services import merge as merge_service
from customers.services import reassign as reassign_service
from customers.services.customers import normalize_phone


def _display(customer: Customer, name: str) -> str:
    field = Customer._meta.get_field(name)
    if field.choices and not isinstance(getattr(customer, name), list):
        return str(getattr(customer, f"get_{name}_display")() or "—")
    value = getattr(customer, name)
    if name == "style_preferences":
        value = _("、").join(customer.style_labels)
    elif name == "functional_needs":
        value = _("、").join(customer.functional_need_labels)
    elif name.endswith("_fen") and value is not None:
        value = format_fen(value)
    elif isinstance(value, bool):
        value = _("是") if value else _("否")
    return str(value) if value not in (None, "", []) else "—"


def _find_duplicate(raw: str) -> Customer | None:
    raw = (raw or "").strip()
    if raw.isdigit() and len(raw) < 11:
        return Customer.objects.filter(pk=int(raw)).first()
    try:
        phone = normalize_phone(raw)
    except ValidationError:
        return None
    return Customer.objects.filter(phone=phone).first()


class MergeView(RoleRequiredMixin, View):
    """Pick two customers, then choose the surviving value of each field and confirm."""

    required_permission = "customers.merge"

    def _pair(self, data) -> tuple[MergePickForm, Customer | None, Customer | None]:
        bound = bool(data.get("duplicate"))
        pick = MergePickForm(data if bound else None, initial={"survivor": data.get("survivor", "")[:10]})
        if not pick.is_bound or not pick.is_valid():
            return pick, None, None
        survivor = Customer.objects.filter(pk=pick.cleaned_data["survivor"]).first()
        duplicate = _find_duplicate(pick.cleaned_data["duplicate"])
        if survivor is None:
            pick.add_error("survivor", _("客户不存在。"))
        if duplicate is None:
            pick.add_error("duplicate", _("找不到该客户（请输入客户编号或手机号）。"))
        return pick, survivor, duplicate

    def _render(self, request, pick, survivor, duplicate, fields_form=None, status=200):
        rows = []
        if survivor is not None and duplicate is not None:
            fields_form = fields_form or MergeFieldsForm(
                field_names=merge_service.MERGE_FIELDS,
                initial_sides={
                    name: "duplicate"
                    for name in merge_service.MERGE_FIELDS
                    if _display(survivor, name) == "—" and _display(duplicate, name) != "—"
                },
            )
            for name in merge_service.MERGE_FIELDS:
                left, right = _display(survivor, name), _display(duplicate, name)
                if name == "phone":
                    left, right = survivor.masked_phone, duplicate.masked_phone
                elif name == "email":
                    left, right = survivor.masked_email or "—", duplicate.masked_email or "—"
                rows.append(
                    {
                        "label": Customer._meta.get_field(name).verbose_name,
                        "survivor": left,
                        "duplicate": right,
                        "same": left == right,
                        "field": fields_form[f"choice_{name}"],
                    }
                )
        return render(
            request,
            "customers/merge.html",
            {
                "pick": pick,
                "survivor": survivor,
                "duplicate": duplicate,
                "rows": rows,
                "fields_form": fields_form,
                "recent": selectors.merges_for_list(tenant=require_tenant())[:20],
            },
            status=status,
        )

    def get(self, request):
        pick, survivor, duplicate = self._pair(request.GET)
        if (
            pick.is_bound
            and not pick.errors
            and survivor is not None
            and survivor.pk == getattr(duplicate, "pk", None)
        ):
            pick.add_error("duplicate", _("不能把客户与自己合并。"))
            duplicate = None
        return self._render(request, pick, survivor, duplicate)

    def post(self, request):
        pick, survivor, duplicate = self._pair(request.POST)
        if survivor is None or duplicate is None:
            return self._render(request, pick, survivor, duplicate, status=400)
        fields_form = MergeFieldsForm(request.POST, field_names=merge_service.MERGE_FIELDS, initial_sides={})
        if fields_form.is_valid():
            try:
                merge = merge_service.customer_merge(
                    tenant=require_tenant(),
                    survivor=survivor,
                    duplicate=duplicate,
                    actor=request.user,
                    field_choices=fields_form.choices(),
                )
            except ValidationError as error:
                apply_service_errors(fields_form, error)
            else:
                messages.success(
                    request,
                    _("已将「%(duplicate)s」合并到「%(survivor)s」，可在合并记录中撤销。")
                    % {"duplicate": duplicate.name, "survivor": survivor.name},
                )
                return redirect("customers:merge-detail", pk=merge.pk)
        return self._render(request, pick, survivor, duplicate, fields_form=fields_form, status=400)


class MergeDetailView(RoleRequiredMixin, View):
    required_permission = "customers.merge"

    def get(self, request, pk, status=200):
        merge = get_object_or_404(selectors.merges_for_list(tenant=require_tenant()), pk=pk)
        moved = []
        for record in (merge.moved or {}).values():
            for key, ids in (record.get("moved") or {}).items():
                if ids:
                    label, _field = key.rsplit(".", 1)
                    from django.apps import apps

                    moved.append((apps.get_model(label)._meta.verbose_name, len(ids)))
        labels = {name: Customer._meta.get_field(name).verbose_name for name in merge_service.MERGE_FIELDS}
        taken = [labels[name] for name, side in (merge.field_choices or {}).items() if side == "duplicate"]
        return render(
            request,
            "customers/merge_detail.html",
            {"merge": merge, "moved": moved, "taken": taken},
            status=status,
        )


class MergeUndoView(RoleRequiredMixin, View):
    required_permission = "customers.merge"

    def post(self, request, pk):
        merge = get_object_or_404(selectors.merges_for_list(tenant=require_tenant()), pk=pk)
        try:
            merge_service.customer_merge_undo(tenant=require_tenant(), merge=merge, actor=request.user)
        except ValidationError as error:
            for messages_of_field in error.message_dict.values():
                for message in messages_of_field:
                    messages.error(request, message)
            return MergeDetailView().get(request, pk, status=400)
        messages.success(request, _("已撤销合并，重复客户已恢复。"))
        return redirect("customers:detail", pk=merge.duplicate_id)


class ReassignView(RoleRequiredMixin, View):
    """A departing rep's customers and open leads to one or several reps (round-robin)."""

    required_permission = "customers.reassign"

    def _context(self, request, form=None, status=200):
        tenant = require_tenant()
        owner_id = request.GET.get("from_owner") or request.POST.get("from_owner") or ""
        owner = None
        if owner_id:
            if not owner_id.isdigit() or len(owner_id) > 10:
                raise Http404
            owner = get_object_or_404(User, pk=int(owner_id), tenant=tenant)
        candidates = list(selectors.customers_to_reassign(tenant=tenant, owner=owner)[:500])
        open_leads: dict[int, int] = {}
        if candidates:
            from django.db.models import Count

            from customers.models import Lead

            open_leads = dict(
                Lead.objects.filter(customer__in=candidates, status=LeadStatus.OPEN)
                .values("customer_id")
                .annotate(n=Count("id"))
                .values_list("customer_id", "n")
            )
        choices = [(customer.pk, customer.name) for customer in candidates]
        form = form or ReassignForm(
            customer_choices=choices, initial={"customers": [pk for pk, _n in choices]}
        )
        return render(
            request,
            "customers/reassign.html",
            {
                "form": form,
                "owner": owner,
                "staff": User.objects.filter(tenant=tenant).order_by("-is_active", "id"),
                "candidates": [(customer, open_leads.get(customer.pk, 0)) for customer in candidates],
            },
            status=status,
        )

    def get(self, request):
        return self._context(request)

    def post(self, request):
        tenant = require_tenant()
        owner_id = request.POST.get("from_owner") or ""
        owner = (
            User.objects.filter(pk=int(owner_id), tenant=tenant).first()
            if owner_id.isdigit() and len(owner_id) <= 10
            else None
        )
        choices = [(c.pk, c.name) for c in selectors.customers_to_reassign(tenant=tenant, owner=owner)[:500]]
        form = ReassignForm(request.POST, customer_choices=choices)
        if form.is_valid():
            try:
                result = reassign_service.customers_reassign(
                    tenant=tenant,
                    actor=request.user,
                    customer_ids=form.cleaned_data["customers"],
                    to_users=list(form.cleaned_data["to_users"]),
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(
                    request,
                    _("已改派 %(customers)s 位客户（%(leads)s 条待响应线索），并已通知接手的销售。")
                    % {"customers": result.reassigned, "leads": result.leads},
                )
                target = f"?from_owner={owner.pk}" if owner is not None else ""
                return redirect(f"{request.path}{target}")
        return self._context(request, form=form, status=400)
