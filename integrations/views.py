"""Managers' pages: webhook endpoints (list, create, edit, delivery log with resend) and robot routing."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from crm.permissions import RoleRequiredMixin
from crm.tenancy import require_tenant
from integrations import selectors, services
from integrations.forms import RobotEventRouteForm, WebhookEndpointForm
from integrations.models import WebhookEndpoint


def _endpoint(pk: int) -> WebhookEndpoint:
    return get_object_or_404(selectors.endpoints_for_list(tenant=require_tenant()), pk=pk)


def _secret_page(request, endpoint: WebhookEndpoint, secret: str):
    """The one time the secret is shown; the page is not cached (no-store for signed-in users)."""
    return render(request, "integrations/webhook_secret.html", {"endpoint": endpoint, "secret": secret})


class WebhookListView(RoleRequiredMixin, View):
    required_permission = "webhooks.view"

    def get(self, request):
        endpoints = selectors.endpoints_for_list(tenant=require_tenant())
        return render(
            request,
            "integrations/webhook_list.html",
            {"endpoints": endpoints, "can_manage": request.user.has_perm("webhooks.manage")},
        )


class WebhookCreateView(RoleRequiredMixin, View):
    required_permission = "webhooks.manage"

    def get(self, request, form: WebhookEndpointForm | None = None):
        form = form or WebhookEndpointForm()
        return render(
            request, "integrations/webhook_form.html", {"form": form}, status=400 if form.errors else 200
        )

    def post(self, request):
        form = WebhookEndpointForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form)
        try:
            endpoint, secret = services.webhook_endpoint_create(tenant=require_tenant(), **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
            return self.get(request, form=form)
        return _secret_page(request, endpoint, secret)


class WebhookDetailView(RoleRequiredMixin, View):
    required_permission = "webhooks.view"

    def get(self, request, pk: int, form: WebhookEndpointForm | None = None):
        tenant = require_tenant()
        endpoint = _endpoint(pk)
        form = form or WebhookEndpointForm(
            initial={
                "name": endpoint.name,
                "url": endpoint.url,
                "event_types": endpoint.event_types,
                "is_active": endpoint.is_active,
            }
        )
        page = Paginator(selectors.endpoint_deliveries(tenant=tenant, endpoint=endpoint), 30).get_page(
            request.GET.get("page")
        )
        context = {
            "endpoint": endpoint,
            "form": form,
            "page": page,
            "can_manage": request.user.has_perm("webhooks.manage"),
        }
        return render(
            request, "integrations/webhook_detail.html", context, status=400 if form.errors else 200
        )

    def post(self, request, pk: int):
        if not request.user.has_perm("webhooks.manage"):
            return self.handle_no_permission()
        endpoint = _endpoint(pk)
        form = WebhookEndpointForm(request.POST)
        if not form.is_valid():
            return self.get(request, pk, form=form)
        try:
            services.webhook_endpoint_update(tenant=require_tenant(), endpoint=endpoint, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
            return self.get(request, pk, form=form)
        messages.success(request, _("已保存。"))
        return redirect("integrations:webhook-detail", pk=endpoint.pk)


class WebhookRotateSecretView(RoleRequiredMixin, View):
    required_permission = "webhooks.manage"

    def post(self, request, pk: int):
        endpoint, secret = services.webhook_endpoint_rotate_secret(
            tenant=require_tenant(), endpoint=_endpoint(pk)
        )
        return _secret_page(request, endpoint, secret)


class WebhookDeleteView(RoleRequiredMixin, View):
    required_permission = "webhooks.manage"

    def post(self, request, pk: int):
        services.webhook_endpoint_delete(tenant=require_tenant(), endpoint=_endpoint(pk))
        messages.success(request, _("接收地址已删除。"))
        return redirect("integrations:webhook-list")


class WebhookResendView(RoleRequiredMixin, View):
    required_permission = "webhooks.manage"

    def post(self, request, pk: int):
        endpoint = _endpoint(pk)
        raw = request.POST.get("delivery", "")
        count = (
            services.webhook_delivery_resend(tenant=require_tenant(), endpoint=endpoint, delivery_id=int(raw))
            if raw.isdigit()
            else 0
        )
        if count:
            messages.success(request, _("已重新投递。"))
        else:
            messages.error(request, _("这条投递不能重新投递（不存在或正在投递中）。"))
        return redirect("integrations:webhook-detail", pk=endpoint.pk)


class RobotEventRouteView(RoleRequiredMixin, View):
    required_permission = "webhooks.manage"

    def get(self, request, form: RobotEventRouteForm | None = None):
        route = services.robot_event_route_get(tenant=require_tenant())
        form = form or RobotEventRouteForm(initial={"event_types": route.event_types})
        return render(
            request, "integrations/robot_events.html", {"form": form}, status=400 if form.errors else 200
        )

    def post(self, request):
        form = RobotEventRouteForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form)
        services.robot_event_route_update(
            tenant=require_tenant(), event_types=form.cleaned_data["event_types"]
        )
        messages.success(request, _("已保存。"))
        return redirect("integrations:robot-events")
