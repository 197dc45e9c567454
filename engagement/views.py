"""Browser pages of engagement. Thin: parse, call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from rest_framework.throttling import AnonRateThrottle

from crm.permissions import RoleRequiredMixin
from crm.tenancy import require_tenant, tenant_context
from customers.models import Customer
from engagement import forms
from engagement.models import ConsentSource
from engagement.services import consent as consent_services


class PublicThrottle(AnonRateThrottle):
    scope = "public"


def _throttled(request, view) -> bool:
    return not PublicThrottle().allow_request(request, view)


class ConsentRecordView(RoleRequiredMixin, View):
    """Staff records a consent change from the customer page (a reason is required)."""

    required_permission = "engagement.consent"

    def post(self, request, customer_id: int):
        tenant = require_tenant()
        customer = get_object_or_404(Customer, pk=customer_id)
        form = forms.ConsentForm(request.POST)
        if form.is_valid():
            try:
                consent_services.consent_record(
                    tenant=tenant,
                    customer=customer,
                    channel=form.cleaned_data["channel"],
                    state=form.cleaned_data["state"],
                    source=ConsentSource.STAFF,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except ValidationError as error:
                messages.error(request, "；".join(error.messages))
            else:
                messages.success(request, _("已记录营销授权。"))
        else:
            messages.error(request, "；".join(str(m) for errors in form.errors.values() for m in errors))
        return redirect(reverse("customers:detail", args=[customer.pk]))


class OptOutView(View):
    """One-click opt-out from a message link: no login, the signed token names tenant and customer.

    GET shows one button (link scanners prefetch GETs, so only the POST withdraws consent).
    """

    template_name = "engagement/opt_out.html"

    def dispatch(self, request, *args, **kwargs):
        if _throttled(request, self):
            return HttpResponse(_("请求过于频繁，请稍后再试。"), status=429)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, token: str):
        target = consent_services.opt_out_resolve(token)
        if target is None:
            return render(request, self.template_name, {"invalid": True}, status=404)
        context = {"tenant": target.tenant, "form": forms.OptOutForm(), "channel": target.channel}
        return render(request, self.template_name, context)

    def post(self, request, token: str):
        target = consent_services.opt_out_resolve(token)
        if target is None:
            return render(request, self.template_name, {"invalid": True}, status=404)
        form = forms.OptOutForm(request.POST)
        all_channels = form.is_valid() and form.cleaned_data["all_channels"]
        with tenant_context(target.tenant):
            consent_services.consent_opt_out(
                tenant=target.tenant,
                customer_id=target.customer_id,
                channel=target.channel,
                all_channels=all_channels,
            )
        return render(request, self.template_name, {"tenant": target.tenant, "done": True})
