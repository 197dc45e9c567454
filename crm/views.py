"""Platform pages: home, login/logout, API token management."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from crm import ratelimit, selectors, services
from crm.extensions import dashboard_widgets, home_widgets
from crm.forms import ApiTokenForm, LoginForm, apply_service_errors
from crm.models import ApiToken
from crm.permissions import RoleRequiredMixin
from crm.tenancy import current_tenant, require_tenant


class CrmLoginView(auth_views.LoginView):
    """django-axes locks a (username, address) pair; on top, failed logins per address across
    usernames are limited (``RATE_LIMITS["login_ip"]``), or one address could try every username."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        try:
            ratelimit.check("login_ip", ratelimit.client_ident(request))
        except ratelimit.RateLimited as error:
            return ratelimit.rate_limited_response(request, error, template="registration/locked_out.html")
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if self.request.method == "POST":
            try:
                ratelimit.hit("login_ip", ratelimit.client_ident(self.request))
            except ratelimit.RateLimited:
                pass  # this failure is answered as usual; the next attempt is refused above
        return super().form_invalid(form)


class CrmLogoutView(auth_views.LogoutView):
    pass


class HomeView(LoginRequiredMixin, TemplateView):
    """Workbench after login: the user's own to-dos, contributed by each app (crm.extensions)."""

    template_name = "crm/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        tenant = current_tenant()
        context["widgets"] = home_widgets(request=self.request, tenant=tenant) if tenant else []
        return context


class DashboardView(RoleRequiredMixin, TemplateView):
    """Managers' dashboard (看板): every app contributes widgets through crm.extensions."""

    required_permission = "crm.view_dashboard"
    template_name = "crm/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["widgets"] = dashboard_widgets(request=self.request, tenant=require_tenant())
        return context


class ApiTokenListView(RoleRequiredMixin, View):
    required_permission = "crm.manage_tokens"
    template_name = "crm/api_tokens.html"

    def get(self, request, form=None, created_plaintext=None):
        tenant = require_tenant()
        form = form or ApiTokenForm(tenant=tenant)
        context = {
            "form": form,
            "tokens": selectors.api_tokens_for_list(tenant=tenant),
            "created_plaintext": created_plaintext,
        }
        return render(request, self.template_name, context)

    def post(self, request):
        tenant = require_tenant()
        form = ApiTokenForm(request.POST, tenant=tenant)
        if not form.is_valid():
            return self.get(request, form=form)
        try:
            token, plaintext = services.api_token_create(
                tenant=tenant,
                created_by=request.user,
                name=form.cleaned_data["name"],
                user=form.cleaned_data["user"],
                scopes=form.cleaned_data["scopes"],
            )
        except ValidationError as error:
            # Errors on ``scopes`` belong to the form as a whole (the scopes are per-module fields).
            apply_service_errors(form, error, {"scopes": NON_FIELD_ERRORS})
            return self.get(request, form=form)
        messages.success(
            request, _("已创建令牌“%(name)s”。请立即复制，它只显示这一次。") % {"name": token.name}
        )
        return self.get(request, form=ApiTokenForm(tenant=tenant), created_plaintext=plaintext)


class ApiTokenRevokeView(RoleRequiredMixin, View):
    required_permission = "crm.manage_tokens"

    def post(self, request, pk: int):
        token = get_object_or_404(ApiToken.objects.all(), pk=pk)
        services.api_token_revoke(tenant=require_tenant(), token=token, revoked_by=request.user)
        messages.success(request, _("已吊销令牌“%(name)s”。") % {"name": token.name})
        return redirect("api-tokens")
