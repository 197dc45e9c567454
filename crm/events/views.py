"""Managers' page: recent deliveries and dead letters, with a retry button (replay)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from crm.events import dispatch, selectors
from crm.events.models import DeliveryStatus
from crm.permissions import RoleRequiredMixin
from crm.tenancy import require_tenant


class DeliveryLogView(RoleRequiredMixin, View):
    required_permission = "events.view"
    template_name = "events/deliveries.html"

    def get(self, request):
        tenant = require_tenant()
        status = request.GET.get("status", "")
        if status not in DeliveryStatus.values:
            status = ""
        page = Paginator(selectors.deliveries_for_log(tenant=tenant, status=status or None), 50).get_page(
            request.GET.get("page")
        )
        context = {
            "page": page,
            "status": status,
            "statuses": DeliveryStatus.choices,
            "dead_count": selectors.dead_letter_count(tenant=tenant),
            "can_replay": request.user.has_perm("events.replay"),
        }
        return render(request, self.template_name, context)


class DeliveryRetryView(RoleRequiredMixin, View):
    required_permission = "events.replay"

    def post(self, request):
        tenant = require_tenant()
        ids = [value for value in request.POST.getlist("delivery") if value.isdigit()]
        if request.POST.get("all_dead"):
            count = dispatch.deliveries_retry(tenant=tenant, status=DeliveryStatus.DEAD)
        else:
            count = dispatch.deliveries_retry(tenant=tenant, delivery_ids=ids) if ids else 0
        messages.success(request, _("已重新投递 %(count)s 条。") % {"count": count})
        return redirect("events-deliveries")
