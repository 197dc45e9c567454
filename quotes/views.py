"""Browser pages of quotes: catalogue (list, edit, import/export), quotations (list, builder, detail
with versions, discount approval, exports) and the customer's acceptance on the progress page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from crm.forms import apply_service_errors
from crm.money import format_fen
from crm.permissions import RoleRequiredMixin, has_permission
from crm.tenancy import require_tenant
from customers.visibility import visible_customer_or_404
from projects.models import Project
from projects.services import share
from projects.views.progress import ProgressView
from quotes import exports, forms, selectors
from quotes import extensions as quote_extensions
from quotes.models import CatalogueItem, DiscountKind, Package, Quotation, QuotationStatus
from quotes.services import catalogue, quotations
from quotes.services._common import quote_settings

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --------------------------------------------------------------------------- catalogue


class CatalogueView(RoleRequiredMixin, View):
    """The price list with the add form, packages, and the Excel import / export."""

    required_permission = "quotes.view"

    def context(self, request, **overrides) -> dict:
        return {
            "items": CatalogueItem.objects.order_by("category", "name", "id"),
            "packages": Package.objects.order_by("name", "id"),
            "item_form": overrides.get("item_form") or forms.CatalogueItemForm(),
            "import_form": overrides.get("import_form") or forms.ImportForm(),
            "import_errors": overrides.get("import_errors", []),
            "can_manage": has_permission(request.user, "quotes.manage_catalogue"),
            "can_set_threshold": has_permission(request.user, "quotes.approve_discount"),
            "threshold_percent": quote_settings(tenant=require_tenant()).approval_threshold_bp / 100,
            "settings_form": overrides.get("settings_form") or forms.QuoteSettingsForm(),
        }

    def get(self, request):
        return render(request, "quotes/catalogue.html", self.context(request))

    def post(self, request):
        """Add an item (``action=item``), import a file (``action=import``) or set the discount
        approval threshold (``action=settings``)."""
        tenant = require_tenant()
        if request.POST.get("action") == "settings":
            form = forms.QuoteSettingsForm(request.POST)
            if form.is_valid():
                try:
                    catalogue.quote_settings_update(
                        tenant=tenant,
                        actor=request.user,
                        approval_threshold_bp=int(form.cleaned_data["threshold_percent"] * 100),
                    )
                except ValidationError as error:
                    apply_service_errors(form, error, {"approval_threshold_bp": "threshold_percent"})
                else:
                    messages.success(request, _("已保存。"))
                    return redirect("quotes:catalogue")
            return render(
                request, "quotes/catalogue.html", self.context(request, settings_form=form), status=400
            )
        if not has_permission(request.user, "quotes.manage_catalogue"):
            raise PermissionDenied(_("您的角色无权执行此操作。"))
        if request.POST.get("action") == "import":
            form = forms.ImportForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    result = catalogue.catalogue_import(
                        tenant=tenant, actor=request.user, upload=form.cleaned_data["file"]
                    )
                except catalogue.CatalogueImportRejected as error:
                    return render(
                        request,
                        "quotes/catalogue.html",
                        self.context(request, import_form=form, import_errors=error.rows),
                        status=400,
                    )
                except ValidationError as error:
                    apply_service_errors(form, error)
                else:
                    messages.success(
                        request,
                        _("已导入：新增 %(created)s 项，更新 %(updated)s 项。")
                        % {"created": result.created, "updated": result.updated},
                    )
                    return redirect("quotes:catalogue")
            return render(
                request, "quotes/catalogue.html", self.context(request, import_form=form), status=400
            )
        form = forms.CatalogueItemForm(request.POST)
        if form.is_valid():
            try:
                catalogue.item_create(tenant=tenant, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("已添加到价目表。"))
                return redirect("quotes:catalogue")
        return render(request, "quotes/catalogue.html", self.context(request, item_form=form), status=400)


class CatalogueExportView(RoleRequiredMixin, View):
    required_permission = "quotes.view"

    def get(self, request):
        items = [] if request.GET.get("template") else CatalogueItem.objects.order_by("category", "name")
        name = "catalogue-template.xlsx" if request.GET.get("template") else "catalogue.xlsx"
        return _download(exports.catalogue_xlsx(items), XLSX, name)


class CatalogueItemEditView(RoleRequiredMixin, View):
    required_permission = "quotes.manage_catalogue"

    def get(self, request, pk: int):
        item = get_object_or_404(CatalogueItem, pk=pk)
        initial = {
            f: getattr(item, f) for f in ("name", "spec", "unit", "unit_price_fen", "category", "active")
        }
        return render(
            request, "quotes/item_form.html", {"item": item, "form": forms.CatalogueItemForm(initial=initial)}
        )

    def post(self, request, pk: int):
        item = get_object_or_404(CatalogueItem, pk=pk)
        form = forms.CatalogueItemForm(request.POST)
        if form.is_valid():
            try:
                catalogue.item_update(
                    tenant=require_tenant(), actor=request.user, item=item, **form.cleaned_data
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("已保存。"))
                return redirect("quotes:catalogue")
        return render(request, "quotes/item_form.html", {"item": item, "form": form}, status=400)


class PackageEditView(RoleRequiredMixin, View):
    """New package (no pk) or edit one."""

    required_permission = "quotes.manage_catalogue"

    def get(self, request, pk: int | None = None):
        package = get_object_or_404(Package, pk=pk) if pk else None
        initial = {}
        if package is not None:
            initial = {
                "name": package.name,
                "price_per_sqm_fen": package.price_per_sqm_fen,
                "includes": package.includes,
                "items": list(package.items.all()),
                "active": package.active,
            }
        return render(
            request,
            "quotes/package_form.html",
            {"package": package, "form": forms.PackageForm(initial=initial)},
        )

    def post(self, request, pk: int | None = None):
        package = get_object_or_404(Package, pk=pk) if pk else None
        form = forms.PackageForm(request.POST)
        if form.is_valid():
            try:
                if package is None:
                    catalogue.package_create(tenant=require_tenant(), actor=request.user, **form.cleaned_data)
                else:
                    catalogue.package_update(
                        tenant=require_tenant(), actor=request.user, package=package, **form.cleaned_data
                    )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("已保存。"))
                return redirect("quotes:catalogue")
        return render(request, "quotes/package_form.html", {"package": package, "form": form}, status=400)


# --------------------------------------------------------------------------- quotations


class QuotationListView(RoleRequiredMixin, View):
    required_permission = "quotes.view"

    def get(self, request):
        status = request.GET.get("status", "")
        status = status if status in QuotationStatus.values else ""
        rows = selectors.quotations_for_list(user=request.user, status=status)[:200]
        return render(
            request,
            "quotes/list.html",
            {"quotations": rows, "status": status, "statuses": QuotationStatus.choices},
        )


class QuotationCreateView(RoleRequiredMixin, View):
    """``/quotes/new/?customer=<id>``: a quotation for a customer the user may see."""

    required_permission = "quotes.edit"

    def _customer(self, request):
        raw = request.GET.get("customer") or request.POST.get("customer") or ""
        if not raw.isdigit():
            raise Http404
        return visible_customer_or_404(request.user, int(raw))

    def get(self, request):
        customer = self._customer(request)
        projects = Project.objects.filter(customer=customer)
        form = forms.QuotationForm(
            projects=projects, initial={"title": _("%(name)s 装修报价") % {"name": customer.name}}
        )
        return render(request, "quotes/new.html", {"customer": customer, "form": form})

    def post(self, request):
        customer = self._customer(request)
        projects = list(Project.objects.filter(customer=customer))
        form = forms.QuotationForm(request.POST, projects=projects)
        if form.is_valid():
            data = dict(form.cleaned_data)
            project_id = data.pop("project")
            project = next((p for p in projects if p.pk == project_id), None)
            try:
                quotation = quotations.quotation_create(
                    tenant=require_tenant(), actor=request.user, customer=customer, project=project, **data
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                return redirect("quotes:detail", pk=quotation.pk)
        return render(request, "quotes/new.html", {"customer": customer, "form": form}, status=400)


def _quotation_or_404(request, pk: int) -> Quotation:
    return get_object_or_404(
        selectors.quotations_visible_to(request.user).select_related("customer", "project", "created_by"),
        pk=pk,
    )


def detail_context(request, quotation: Quotation, **overrides) -> dict:
    user = request.user
    return {
        "quotation": quotation,
        "lines": list(quotation.lines.all()),
        "versions": selectors.versions_of(quotation),
        "line_form": overrides.get("line_form") or forms.LineForm(),
        "discount_form": overrides.get("discount_form")
        or forms.DiscountForm(
            initial={
                "discount_kind": quotation.discount_kind,
                "discount_amount_fen": quotation.discount_value
                if quotation.discount_kind == DiscountKind.AMOUNT
                else None,
                "discount_percent": (
                    f"{quotation.discount_value / 100:g}"
                    if quotation.discount_kind == DiscountKind.PERCENT
                    else ""
                ),
            }
        ),
        "note_form": forms.NoteForm(),
        "can_edit": has_permission(user, "quotes.edit"),
        "can_approve": has_permission(user, "quotes.approve_discount"),
        "sections": quote_extensions.quotation_sections(request=request, quotation=quotation),
    }


class QuotationDetailView(RoleRequiredMixin, View):
    required_permission = "quotes.view"

    def get(self, request, pk: int):
        quotation = _quotation_or_404(request, pk)
        return render(request, "quotes/detail.html", detail_context(request, quotation))


class QuotationActionView(RoleRequiredMixin, View):
    """POST actions on one quotation: run a service in a transaction, redirect, or show the error."""

    required_permission = "quotes.view"
    form_name = ""

    def post(self, request, pk: int, **kwargs):
        self.tenant = require_tenant()
        self.quotation = _quotation_or_404(request, pk)
        self.form = None
        try:
            with transaction.atomic():
                result = self.act(request, **kwargs)
        except ValidationError as error:
            if self.form is None:
                messages.error(request, _("；").join(error.messages))
                return redirect("quotes:detail", pk=pk)
            apply_service_errors(self.form, error)
            result = None
        except PermissionDenied as error:
            messages.error(request, str(error))
            return redirect("quotes:detail", pk=pk)
        if result is None:
            self.quotation.refresh_from_db()
            context = detail_context(request, self.quotation, **{self.form_name: self.form})
            return render(request, "quotes/detail.html", context, status=400)
        if isinstance(result, Quotation):
            return redirect("quotes:detail", pk=result.pk)
        messages.success(request, result)
        return redirect("quotes:detail", pk=self.quotation.pk)

    def act(self, request, **kwargs):
        raise NotImplementedError


class LineAddView(QuotationActionView):
    form_name = "line_form"

    def act(self, request):
        self.form = forms.LineForm(request.POST)
        if not self.form.is_valid():
            return None
        quotations.quotation_add_line(
            tenant=self.tenant,
            actor=request.user,
            quotation=self.quotation,
            line=dict(self.form.cleaned_data),  # type: ignore[arg-type]
        )
        return _("已添加明细，合计已更新。")


class LineRemoveView(QuotationActionView):
    def act(self, request, line_id: int):
        quotations.quotation_remove_line(
            tenant=self.tenant, actor=request.user, quotation=self.quotation, line_id=line_id
        )
        return _("已删除明细，合计已更新。")


class DiscountView(QuotationActionView):
    form_name = "discount_form"

    def act(self, request):
        self.form = forms.DiscountForm(request.POST)
        if not self.form.is_valid():
            return None
        data = self.form.cleaned_data
        percent_bp = 0
        if data["discount_kind"] == DiscountKind.PERCENT:
            percent_bp = quotations.parse_percent(data["discount_percent"] or "")
        quotation = quotations.quotation_set_discount(
            tenant=self.tenant,
            actor=request.user,
            quotation=self.quotation,
            kind=data["discount_kind"],
            amount_fen=data["discount_amount_fen"] or 0,
            percent_bp=percent_bp,
        )
        if quotation.discount_approval == "pending":
            return _("折扣已保存，超过审批线，已通知经理审批。")
        return _("折扣已保存。")


class DiscountDecideView(QuotationActionView):
    def act(self, request, decision: str):
        if decision not in ("approve", "reject"):
            raise Http404
        form = forms.NoteForm(request.POST)
        note = form.cleaned_data["note"] if form.is_valid() else ""
        quotations.quotation_decide_discount(
            tenant=self.tenant,
            actor=request.user,
            quotation=self.quotation,
            approve=decision == "approve",
            note=note,
        )
        return _("已批准折扣。") if decision == "approve" else _("已驳回折扣。")


class SendView(QuotationActionView):
    def act(self, request):
        quotations.quotation_send(tenant=self.tenant, actor=request.user, quotation=self.quotation)
        return _("报价单已发送；客户可在进度页确认。")


class ReviseView(QuotationActionView):
    def act(self, request):
        return quotations.quotation_revise(tenant=self.tenant, actor=request.user, quotation=self.quotation)


class StaffDecideView(QuotationActionView):
    def act(self, request, decision: str):
        if decision not in ("accept", "reject"):
            raise Http404
        quotations.quotation_decide(
            tenant=self.tenant,
            quotation=self.quotation,
            accept=decision == "accept",
            channel=quotations.DecisionChannel.STAFF,
            decided_by=request.user,
        )
        return _("已记录客户接受报价。") if decision == "accept" else _("已记录客户拒绝报价。")


class ExportView(RoleRequiredMixin, View):
    required_permission = "quotes.view"

    def get(self, request, pk: int, kind: str):
        quotation = _quotation_or_404(request, pk)
        if kind == "xlsx":
            return _download(
                exports.quotation_xlsx(quotation), XLSX, exports.export_filename(quotation, "xlsx")
            )
        if kind == "pdf":
            content = exports.quotation_pdf(quotation, company=require_tenant().name)
            return _download(content, "application/pdf", exports.export_filename(quotation, "pdf"))
        raise Http404


# --------------------------------------------------------------------------- customer progress page


class ProgressDecideView(ProgressView):
    """The customer accepts or rejects a sent quotation on the progress page with an SMS code:
    step 1 (``request``) sends the code, step 2 (``confirm``) checks it and records the decision.
    The same code mechanism as change orders (``projects.services.share``)."""

    http_method_names = ["post"]

    def _page(self, request, status: int = 200, **state):
        request.quote_progress_state = state
        return render(request, "projects/progress.html", self.context(), status=status)

    def post(self, request, quotation_id: int, step: str):
        quotation = Quotation.objects.filter(
            project=self.link.project, pk=quotation_id, status=QuotationStatus.SENT
        ).first()
        if quotation is None:
            raise Http404
        subject = f"quotation:{quotation.pk}"
        decision = request.POST.get("decision", "")
        if step == "request":
            action = (
                "接受" if decision == "approve" else "拒绝"
            )  # the SMS is in Chinese, like the change orders'

            def sms_text(code: str) -> str:
                return (
                    f"【{self.tenant.name}】您正在{action}报价单「{quotation.title}」"
                    f"（合计 {format_fen(quotation.total_fen)}），验证码 {code}，10 分钟内有效。"
                )

            try:
                share.share_code_request(
                    tenant=self.tenant, link=self.link, subject=subject, decision=decision, sms_text=sms_text
                )
            except share.CodeQuotaExceeded as error:
                response = self._page(
                    request, status=429, errors={quotation.pk: _("；").join(error.messages)}
                )
                response["Retry-After"] = str(error.retry_after)
                return response
            except ValidationError as error:
                return self._page(request, status=400, errors={quotation.pk: _("；").join(error.messages)})
            return self._page(request, code_for=(quotation.pk, decision))
        if step == "confirm":
            try:
                confirmed = share.share_code_check(  # commits a failed attempt itself
                    tenant=self.tenant, link=self.link, subject=subject, code=request.POST.get("code", "")
                )
                quotations.quotation_decide(
                    tenant=self.tenant,
                    quotation=quotation,
                    accept=confirmed == "approve",
                    channel=quotations.DecisionChannel.CUSTOMER_LINK,
                    decided_by=None,
                )
            except share.CodeRejected as error:
                return self._page(
                    request, status=400, code_for=(quotation.pk, decision), errors={quotation.pk: str(error)}
                )
            except ValidationError as error:
                return self._page(request, status=400, errors={quotation.pk: _("；").join(error.messages)})
            return redirect(reverse("projects:progress", args=[self.token]) + f"#quote-{quotation.pk}")
        raise Http404
