"""Browser pages: lead inbox, customer list/detail/forms, pool, import/export. Thin: services do the work."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View

from crm import extensions
from crm.forms import apply_service_errors
from crm.notifications.badge import badge_cache_key
from crm.page_cache import page_cache_batch
from crm.paging import InvalidCursor, browser_page
from crm.permissions import RoleRequiredMixin, has_permission, require_permission
from crm.selectors import staff_names_key
from crm.templatetags.crm_ui import tel_link
from crm.tenancy import require_tenant
from customers import detail, selectors
from customers import io as customer_io
from customers.filters import CustomerFilter, yuan_page_params_to_fen
from customers.forms import (
    CustomerForm,
    CustomerSettingsForm,
    FollowUpForm,
    ImportForm,
    IntakeKeyRotateForm,
    LeadForm,
    SegmentForm,
)
from customers.models import Customer, Segment
from customers.services import classification, customers, follow_ups, privacy, segments, settings
from customers.services import leads as leads_services
from customers.services import pool as pool_services
from customers.visibility import visible_customer_or_404

#: Query parameters that page through the list rather than filter it.
PAGING_PARAMS = ("page", "page_size", "cursor")
#: The list counts exactly up to this many customers, then says "1,000+".
LIST_COUNT_CAP = 1000


def _list_params(request) -> tuple[QueryDict, Segment | None]:
    """The filter parameters of a request, or of the saved segment it names (?segment=ID)."""
    segment = None
    params = request.GET.copy()
    yuan_page_params_to_fen(params)
    segment_id = params.pop("segment", [None])[0]
    if segment_id and segment_id.isdigit():
        segment = Segment.objects.filter(pk=int(segment_id)).first()
        if segment is not None and not any(key for key in params if key not in PAGING_PARAMS):
            for key, value in segment.filters.items():
                if isinstance(value, list):
                    params.setlist(key, [str(v) for v in value])
                else:
                    params[key] = str(value)
    return params, segment


def filtered_customers(request):
    params, segment = _list_params(request)
    tenant = require_tenant()
    filterset = CustomerFilter(
        data=params,
        queryset=selectors.customers_for_list(tenant=tenant, user=request.user).filter(
            merged_at__isnull=True
        ),
        request=request,
    )
    return filterset, segment, params


class CustomerListView(RoleRequiredMixin, View):
    """The sales staff's list: keyset pages (``crm.paging``), rows precomputed for the template.

    Without a filter parameter no FilterSet is built (40-odd fields, the staff queryset); the
    filter form itself is fetched by htmx when its panel is opened.
    """

    required_permission = "customers.view"

    def get(self, request):
        tenant = require_tenant()
        keys = [
            staff_names_key(tenant.pk),
            selectors.segment_menu_key(tenant.pk),
            badge_cache_key(request.user.pk),
        ]
        with page_cache_batch(keys):  # the page's cached facts in one Redis round trip
            return self.render_list(request, tenant)

    def render_list(self, request, tenant):
        params, segment = _list_params(request)
        query = params.copy()
        for key in ("page", "cursor", "_filters"):
            query.pop(key, None)
        active_filters = sum(
            1
            for key, values in query.lists()
            if key != "page_size" and any(value not in ("", "unknown") for value in values)
        )
        show_filters = bool(active_filters) or "_filters" in request.GET
        base = selectors.customers_for_list_page(tenant=tenant, user=request.user)
        filterset = None
        if show_filters or any(name in CustomerFilter.base_filters for name in params):
            filterset = CustomerFilter(data=params, queryset=base, request=request)
        context: dict[str, Any] = {
            "filter": filterset,
            "segment": segment,
            "querystring": query.urlencode(),
            "active_filters": active_filters,
            "show_filters": show_filters,
            "can_segment": has_permission(request.user, "customers.manage_segments"),
        }
        if request.headers.get("HX-Request") and "_filters" in request.GET:
            # The filter form (40-odd widgets) is rendered only when the panel is opened.
            return render(request, "customers/_filter_form.html", context)
        queryset = base
        if filterset is not None:
            queryset = filterset.qs if filterset.is_valid() else Customer.objects.none()
        queryset = queryset.values(*selectors.LIST_ROW_FIELDS)
        status = 200
        try:
            page = browser_page(request, queryset, count_cap=LIST_COUNT_CAP)
        except InvalidCursor:
            messages.error(request, _("翻页链接已失效（筛选或排序已改变），已回到第一页。"))
            page = browser_page(request, queryset, count_cap=LIST_COUNT_CAP, from_start=True)
            status = 400
        context.update(
            {
                "page": page,
                "rows": selectors.list_rows(request.user, page.rows, tenant=tenant),
                "segments": selectors.segment_menu(tenant=tenant),
                "can_export": has_permission(request.user, "customers.export"),
                "can_import": has_permission(request.user, "customers.import"),
                "can_edit": has_permission(request.user, "customers.edit"),
                "can_settings": has_permission(request.user, "customers.settings"),
            }
        )
        return render(request, "customers/customer_list.html", context, status=status)


class SegmentSaveView(RoleRequiredMixin, View):
    required_permission = "customers.manage_segments"

    def post(self, request):
        form = SegmentForm(request.POST)
        query = request.GET.copy()
        yuan_page_params_to_fen(query)
        filters = {key: values if len(values) > 1 else values[0] for key, values in query.lists()}
        for key in (*PAGING_PARAMS, "segment"):
            filters.pop(key, None)
        if form.is_valid():
            try:
                segment = segments.segment_save(
                    tenant=require_tenant(),
                    created_by=request.user,
                    name=form.cleaned_data["name"],
                    filters=filters,
                )
            except ValidationError as error:
                messages.error(request, _("；").join(error.messages))
                return redirect(f"{reverse('customers:list')}?{request.GET.urlencode()}")
            messages.success(request, _("已保存分群“%(name)s”。") % {"name": segment.name})
            return redirect(f"{reverse('customers:list')}?segment={segment.pk}")
        messages.error(request, _("请填写分群名称。"))
        return redirect(f"{reverse('customers:list')}?{request.GET.urlencode()}")


class CustomerExportView(RoleRequiredMixin, View):
    required_permission = "customers.export"

    def get(self, request):
        filterset, _segment, params = filtered_customers(request)
        if not filterset.is_valid():
            messages.error(request, _("筛选条件有误，无法导出。"))
            return redirect("customers:list")
        file_format = "xlsx" if request.GET.get("format") == "xlsx" else "csv"
        content, content_type = customer_io.customers_export(
            tenant=require_tenant(),
            user=request.user,
            queryset=filterset.qs,
            file_format=file_format,
            filters={k: v for k, v in params.lists() if k not in ("format", "page", "cursor")},
        )
        response = HttpResponse(content, content_type=content_type)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.{file_format}"'
        return response


class CustomerImportView(RoleRequiredMixin, View):
    required_permission = "customers.import"

    def get(self, request):
        return render(request, "customers/customer_import.html", {"form": ImportForm()})

    def post(self, request):
        form = ImportForm(request.POST, request.FILES)
        errors = []
        if form.is_valid():
            try:
                rows = customer_io.read_rows(form.cleaned_data["file"])
                count = customer_io.customers_import(tenant=require_tenant(), user=request.user, rows=rows)
            except ValidationError as error:
                apply_service_errors(form, error)
            except customer_io.ImportRejected as rejected:
                errors = rejected.errors
            else:
                messages.success(request, _("已导入 %(count)s 位客户。") % {"count": count})
                return redirect("customers:list")
        return render(request, "customers/customer_import.html", {"form": form, "errors": errors}, status=400)


class CustomerFormMixin(RoleRequiredMixin):
    required_permission = "customers.edit"
    template_name = "customers/customer_form.html"

    def render_form(self, request, form, customer=None, status=200):
        return render(request, self.template_name, {"form": form, "customer": customer}, status=status)


class CustomerCreateView(CustomerFormMixin, View):
    def get(self, request):
        return self.render_form(request, CustomerForm())

    def post(self, request):
        form = CustomerForm(request.POST)
        if form.is_valid():
            try:
                customer = customers.customer_create(
                    tenant=require_tenant(), created_by=request.user, **form.service_data()
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("客户已创建。"))
                return redirect("customers:detail", pk=customer.pk)
        return self.render_form(request, form, status=400)


class CustomerEditView(CustomerFormMixin, View):
    def get(self, request, pk):
        customer = visible_customer_or_404(request.user, pk)
        return self.render_form(request, CustomerForm(instance=customer), customer)

    def post(self, request, pk):
        customer = visible_customer_or_404(request.user, pk)
        form = CustomerForm(request.POST, instance=Customer.objects.get(pk=pk))
        if form.is_valid():
            try:
                customers.customer_update(
                    tenant=require_tenant(), customer=customer, updated_by=request.user, **form.service_data()
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("已保存。"))
                return redirect("customers:detail", pk=pk)
        return self.render_form(request, form, customer, status=400)


#: The empty follow-up form's fields as HTML, per language: the same on every detail page, and its
#: widgets' templates were a tenth of the page's render time.
_FOLLOW_UP_FIELDS: dict[str, SafeString] = {}


def _empty_follow_up_fields() -> SafeString:
    language = get_language() or ""
    html = _FOLLOW_UP_FIELDS.get(language)
    if html is None:
        html = _FOLLOW_UP_FIELDS[language] = render_to_string(
            "customers/_follow_up_fields.html", {"follow_up_form": FollowUpForm()}
        )
    return html


class CustomerDetailView(RoleRequiredMixin, View):
    required_permission = "customers.view"

    def get(self, request, pk, follow_up_form=None, status=200):
        tenant = require_tenant()
        customer = visible_customer_or_404(
            request.user, pk, Customer.objects.select_related("owner", "designer")
        )
        # Every app's timeline and panel data and this page's own rows: one statement.
        page = extensions.customer_page(
            request=request,
            tenant=tenant,
            customer_id=customer.pk,
            own=detail.page_queries(tenant=tenant, customer=customer),
            checked=True,  # visible_customer_or_404
        )
        return render(
            request,
            "customers/customer_detail.html",
            {
                "customer": customer,
                "phone": selectors.display_phone(request.user, customer),
                "phone_masked": not selectors.can_see_full_phone(request.user, customer),
                "email": selectors.display_email(request.user, customer),
                "timeline": page.timeline,
                "panels": page.panels,
                "leads": detail.page_leads(page.data["customers.timeline.leads"]),
                "follow_up_form": follow_up_form,
                "follow_up_fields": None if follow_up_form is not None else _empty_follow_up_fields(),
                "can_follow_up": has_permission(request.user, "customers.follow_up"),
                "can_edit": has_permission(request.user, "customers.edit"),
                "can_claim": customer.in_pool and has_permission(request.user, "customers.claim"),
                "can_privacy": has_permission(request.user, "customers.privacy"),
                "can_merge": has_permission(request.user, "customers.merge"),
                "can_reassign": has_permission(request.user, "customers.reassign"),
                "ownership": detail.page_ownership(page.data["ownership"]),
                "merged_into": page.data.get("merged_into"),
            },
            status=status,
        )


class FollowUpCreateView(RoleRequiredMixin, View):
    required_permission = "customers.follow_up"

    def post(self, request, pk):
        customer = visible_customer_or_404(request.user, pk)
        form = FollowUpForm(request.POST)
        if form.is_valid():
            try:
                follow_ups.follow_up_create(
                    tenant=require_tenant(), customer=customer, author=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("已记录跟进。"))
                return redirect("customers:detail", pk=pk)
        return CustomerDetailView().get(request, pk, follow_up_form=form, status=400)


class RevealPhoneView(RoleRequiredMixin, View):
    required_permission = "customers.reveal_phone"

    def post(self, request, pk):
        customer = visible_customer_or_404(request.user, pk)
        phone = privacy.customer_reveal_phone(tenant=require_tenant(), customer=customer, user=request.user)
        if request.headers.get("HX-Request"):
            link = tel_link(phone.removeprefix("+86"))
            return HttpResponse(format_html('<span class="crm-phone">{}</span>', link))
        return JsonResponse({"phone": phone})


class ClaimView(RoleRequiredMixin, View):
    required_permission = "customers.claim"

    def post(self, request, pk):
        customer = visible_customer_or_404(request.user, pk)
        try:
            pool_services.customer_claim_from_pool(
                tenant=require_tenant(), customer=customer, user=request.user
            )
        except ValidationError as error:
            messages.error(request, _("；").join(error.messages))
        else:
            messages.success(request, _("已从公海领取该客户。"))
        return redirect("customers:detail", pk=pk)


class AnonymiseView(RoleRequiredMixin, View):
    required_permission = "customers.privacy"

    def post(self, request, pk):
        customer = visible_customer_or_404(request.user, pk)
        privacy.customer_anonymise(tenant=require_tenant(), customer=customer, user=request.user)
        messages.success(request, _("已匿名化该客户的个人信息，历史记录保留。"))
        return redirect("customers:detail", pk=pk)


class PersonalDataExportView(RoleRequiredMixin, View):
    required_permission = "customers.privacy"

    def get(self, request, pk):
        customer = visible_customer_or_404(request.user, pk)
        data = customer_io.customer_personal_data(
            tenant=require_tenant(), user=request.user, customer=customer
        )
        response = HttpResponse(
            json.dumps(data, ensure_ascii=False, indent=2, default=str), content_type="application/json"
        )
        response["Content-Disposition"] = f'attachment; filename="customer-{pk}.json"'
        return response


class LeadInboxView(RoleRequiredMixin, View):
    required_permission = "customers.view"

    def get(self, request, form=None, status=200):
        with page_cache_batch([badge_cache_key(request.user.pk)]):  # fetched with the session's user
            return self.render_inbox(request, form=form, status=status)

    def render_inbox(self, request, form=None, status=200):
        tenant = require_tenant()
        mine = request.GET.get("mine") == "1"
        by_score = request.GET.get("sort") == "score"
        leads = list(
            selectors.leads_for_inbox(tenant=tenant, user=request.user, mine=mine, by_score=by_score)[:200]
        )
        scores = extensions.lead_scores(tenant=tenant, lead_ids=[lead.pk for lead in leads])
        now = timezone.now()
        pool = list(selectors.pool_customers(tenant=tenant, user=request.user)[:50])
        phones = selectors.display_phones(request.user, [lead.customer for lead in leads] + pool)
        rows = [
            {
                "lead": lead,
                "score": scores.get(lead.pk),
                "phone": phones[lead.customer_id],
                "overdue": lead.first_response_due_at <= now,
                "not_started": lead.clock_started_at > now,
            }
            for lead in leads
        ]
        stats = (
            selectors.lead_response_stats(tenant=tenant)
            if has_permission(request.user, "customers.view_stats")
            else None
        )
        return render(
            request,
            "customers/lead_inbox.html",
            {
                "rows": rows,
                "mine": mine,
                "by_score": by_score,
                "now": now,
                "pool": [(customer, phones[customer.pk]) for customer in pool],
                "stats": stats,
                "form": form or LeadForm(),
                "can_claim": has_permission(request.user, "customers.claim"),
                "can_create": has_permission(request.user, "customers.edit"),
                "sla_minutes": tenant.lead_response_sla_minutes,
                "settings_row": settings.customer_settings_for(tenant=tenant),
            },
            status=status,
        )

    def post(self, request):
        require_permission(request.user, "customers.edit")
        form = LeadForm(request.POST)
        if form.is_valid():
            try:
                lead = leads_services.lead_create(
                    tenant=require_tenant(), created_by=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(
                    request, _("线索已登记，分配给 %(user)s。") % {"user": lead.assignee or _("（无人值班）")}
                )
                return redirect("customers:lead-inbox")
        return self.get(request, form=form, status=400)


class CustomerSettingsView(RoleRequiredMixin, View):
    """Managers tune SLA business hours, pool deadlines, tier thresholds and the intake key."""

    required_permission = "customers.settings"

    def render_page(self, request, form, intake_key="", status=200, rotate=None):
        tenant = require_tenant()
        return render(
            request,
            "customers/settings.html",
            {
                "form": form,
                "intake_key": intake_key,
                "rotate_form": rotate or IntakeKeyRotateForm(),
                "previous_key_active": settings.previous_intake_key_active(form.instance),
                "settings_row": form.instance,
                "sla_minutes": tenant.lead_response_sla_minutes,
                "intake_url": request.build_absolute_uri(reverse("lead-intake")),
            },
            status=status,
        )

    def get(self, request):
        return self.render_page(
            request, CustomerSettingsForm(instance=settings.customer_settings_for(tenant=require_tenant()))
        )

    def post(self, request):
        settings_row = settings.customer_settings_for(tenant=require_tenant(), lock=True)
        if "rotate_intake_key" in request.POST:
            data = request.POST.copy()
            data.setdefault("grace_hours", "0")  # a form without the choice: the old key stops at once
            rotate = IntakeKeyRotateForm(data)
            if not rotate.is_valid():
                return self.render_page(
                    request, CustomerSettingsForm(instance=settings_row), rotate=rotate, status=400
                )
            key = settings.intake_key_rotate(
                tenant=require_tenant(), grace_hours=int(rotate.cleaned_data["grace_hours"])
            )
            settings_row.refresh_from_db()
            return self.render_page(request, CustomerSettingsForm(instance=settings_row), intake_key=key)
        if "end_intake_key_grace" in request.POST:
            settings.intake_key_end_grace(tenant=require_tenant())
            messages.success(request, _("旧接入密钥已停用。"))
            return redirect("customers:settings")
        form = CustomerSettingsForm(request.POST, instance=settings_row)
        if form.is_valid():
            form.save()
            classification.customers_recompute_all(tenant=require_tenant())
            messages.success(request, _("设置已保存，客户分类已按新阈值重新计算。"))
            return redirect("customers:settings")
        return self.render_page(request, form, status=400)


class AuditLogView(RoleRequiredMixin, View):
    """PIPL: managers see who revealed, exported, imported or anonymised whose data, and when."""

    required_permission = "customers.privacy"

    def get(self, request):
        entries = selectors.audit_log_for_list(tenant=require_tenant())[:300]
        return render(request, "customers/audit_log.html", {"entries": entries})
