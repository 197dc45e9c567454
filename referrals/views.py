"""Browser pages: leaderboard, account (balance, ledger, redemption), settings, public share link."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from crm import ratelimit
from crm.forms import apply_service_errors
from crm.models import Tenant
from crm.money import format_fen_number
from crm.permissions import RoleRequiredMixin, has_permission
from crm.tenancy import require_tenant, tenant_context
from customers.models import Customer
from customers.visibility import rows_visible_to, visible_customer_or_404
from referrals import selectors
from referrals.extensions import customer_url
from referrals.forms import (
    AdjustmentForm,
    JoinForm,
    LinkReferrerForm,
    RedemptionForm,
    ReferralSettingsForm,
    VipDecisionForm,
)
from referrals.models import Referral, ReferralAccount, ReferralSource, ReferralStatus
from referrals.services import accounts, ledger, referrals, settings, vip


class ReferralHomeView(RoleRequiredMixin, View):
    """Leaderboard, 转介绍占比, VIP reviews waiting for a manager, latest referrals."""

    required_permission = "referrals.view"

    def get(self, request):
        tenant = require_tenant()
        today = timezone.localdate()
        month_start = today.replace(day=1)
        context = {
            "leaders": selectors.leaderboard(tenant=tenant, limit=20, user=request.user),
            "share_month": selectors.referral_share_of_new_contracts(
                tenant=tenant, start=month_start, end=today
            ),
            "share_90": selectors.referral_share_of_new_contracts(
                tenant=tenant, start=today - datetime.timedelta(days=89), end=today
            ),
            "status_counts": [
                (ReferralStatus(status).label, count)
                for status, count in selectors.referral_counts_by_status(tenant=tenant).items()
            ],
            "reviews": list(selectors.vip_reviews_pending(tenant=tenant, user=request.user)),
            "recent": list(rows_visible_to(request.user, selectors.referrals_for_list(tenant=tenant))[:15]),
            "rule": settings.referral_settings_get(tenant=tenant),
            "can_settings": has_permission(request.user, "referrals.settings"),
        }
        return render(request, "referrals/home.html", context)


class AccountDetailView(RoleRequiredMixin, View):
    """One referrer: code and link, referred customers, balance, ledger, redemption/adjustment forms."""

    required_permission = "referrals.view"

    def get(self, request, pk: int, redemption_form=None, adjustment_form=None, vip_form=None, status=200):
        tenant = require_tenant()
        account = get_object_or_404(
            rows_visible_to(request.user, ReferralAccount.objects.select_related("customer")), pk=pk
        )
        context = {
            "account": account,
            "customer_url": customer_url(account.customer_id),
            "share_url": accounts.referral_share_url(tenant=tenant, account=account, request=request),
            "referrals": list(
                rows_visible_to(
                    request.user, selectors.referrals_for_list(tenant=tenant, referrer_id=account.customer_id)
                )[:100]
            ),
            "entries": list(selectors.ledger_for_list(tenant=tenant, account_id=account.pk)[:100]),
            "vip_events": list(account.vip_events.select_related("decided_by")[:20]),
            "rule": settings.referral_settings_get(tenant=tenant),
            "can_redeem": has_permission(request.user, "referrals.redeem"),
            "can_adjust": has_permission(request.user, "referrals.adjust"),
            "can_vip": has_permission(request.user, "referrals.vip_decide"),
            "can_edit": has_permission(request.user, "referrals.edit"),
            "redemption_form": redemption_form or RedemptionForm(customer_id=account.customer_id),
            "adjustment_form": adjustment_form or AdjustmentForm(),
            "vip_form": vip_form or VipDecisionForm(),
        }
        return render(request, "referrals/account_detail.html", context, status=status)


class RedeemView(AccountDetailView):
    required_permission = "referrals.redeem"

    def post(self, request, pk: int):
        account = get_object_or_404(rows_visible_to(request.user, ReferralAccount.objects.all()), pk=pk)
        form = RedemptionForm(request.POST, customer_id=account.customer_id)
        if form.is_valid():
            try:
                entry = ledger.referral_redeem(
                    tenant=require_tenant(),
                    account=account,
                    amount_fen=form.amount_fen,
                    target=form.cleaned_data["target"],
                    description=form.cleaned_data["description"],
                    project=form.cleaned_data["project"],
                    redeemed_by=request.user,
                    client_key=form.cleaned_data["client_key"],
                )
            except ValidationError as error:
                apply_service_errors(
                    form, error, {"amount_fen": "amount_yuan", "redemption_target": "target"}
                )
            else:
                messages.success(
                    request,
                    _("已抵扣 ¥%(amount)s，余额 ¥%(balance)s。")
                    % {
                        "amount": format_fen_number(-entry.amount_fen),
                        "balance": format_fen_number(entry.balance_after_fen),
                    },
                )
                return redirect("referrals:account", pk=pk)
        return self.get(request, pk, redemption_form=form, status=400)


class AdjustView(AccountDetailView):
    required_permission = "referrals.adjust"

    def post(self, request, pk: int):
        account = get_object_or_404(rows_visible_to(request.user, ReferralAccount.objects.all()), pk=pk)
        form = AdjustmentForm(request.POST)
        if form.is_valid():
            try:
                ledger.referral_adjust(
                    tenant=require_tenant(),
                    account=account,
                    amount_fen=form.amount_fen,
                    reason=form.cleaned_data["reason"],
                    adjusted_by=request.user,
                    client_key=form.cleaned_data["client_key"],
                )
            except ValidationError as error:
                apply_service_errors(form, error, {"amount_fen": "amount_yuan"})
            else:
                messages.success(request, _("已记录人工调整。"))
                return redirect("referrals:account", pk=pk)
        return self.get(request, pk, adjustment_form=form, status=400)


class VipDecisionView(AccountDetailView):
    required_permission = "referrals.vip_decide"

    def post(self, request, pk: int):
        account = get_object_or_404(rows_visible_to(request.user, ReferralAccount.objects.all()), pk=pk)
        form = VipDecisionForm(request.POST)
        if form.is_valid():
            try:
                vip.referral_vip_decide(
                    tenant=require_tenant(),
                    account=account,
                    keep=form.cleaned_data["keep"],
                    reason=form.cleaned_data["reason"],
                    decided_by=request.user,
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("已记录 VIP 决定。"))
                return redirect("referrals:account", pk=pk)
        return self.get(request, pk, vip_form=form, status=400)


class CustomerAccountView(RoleRequiredMixin, View):
    """From a customer to their account page (creating the code on first visit)."""

    required_permission = "referrals.view"

    def get(self, request, customer_id: int):
        customer = visible_customer_or_404(request.user, customer_id)
        account = accounts.referral_account_ensure(tenant=require_tenant(), customer=customer)
        return redirect("referrals:account", pk=account.pk)


class LinkReferrerView(RoleRequiredMixin, View):
    """Staff record who referred this customer, by the referrer's code or phone."""

    required_permission = "referrals.edit"

    def _render(self, request, customer, form, status=200):
        context = {"customer": customer, "form": form, "customer_url": customer_url(customer.pk)}
        return render(request, "referrals/link_referrer.html", context, status=status)

    def get(self, request, customer_id: int):
        customer = visible_customer_or_404(request.user, customer_id)
        return self._render(request, customer, LinkReferrerForm())

    def post(self, request, customer_id: int):
        customer = visible_customer_or_404(request.user, customer_id)
        form = LinkReferrerForm(request.POST)
        if form.is_valid():
            try:
                referral = referrals.referral_link_by_code(
                    tenant=require_tenant(),
                    referred=customer,
                    code=form.cleaned_data["code"],
                    created_by=request.user,
                    note=form.cleaned_data["note"],
                )
            except ValidationError as error:
                apply_service_errors(form, error, {"referred": "code", "referrer": "code"})
            else:
                messages.success(
                    request,
                    _("已记录：%(customer)s 由 %(referrer)s 推荐。")
                    % {"customer": customer.name, "referrer": referral.referrer.name},
                )
                return redirect(customer_url(customer.pk) or "referrals:home")
        return self._render(request, customer, form, status=400)


class ReferralStatusView(RoleRequiredMixin, View):
    required_permission = "referrals.edit"

    def post(self, request, pk: int):
        referral = get_object_or_404(
            rows_visible_to(request.user, Referral.objects.select_related("referrer")), pk=pk
        )
        try:
            referrals.referral_status_set(
                tenant=require_tenant(),
                referral=referral,
                status=request.POST.get("status", ""),
                changed_by=request.user,
            )
        except ValidationError as error:
            messages.error(request, _("；").join(error.messages))
        account = accounts.referral_account_ensure(tenant=require_tenant(), customer=referral.referrer)
        return redirect("referrals:account", pk=account.pk)


class ReferralSettingsView(RoleRequiredMixin, View):
    required_permission = "referrals.settings"

    def get(self, request, form=None, status=200):
        rule = settings.referral_settings_get(tenant=require_tenant())
        form = form or ReferralSettingsForm(
            initial={
                "rule_kind": rule.rule_kind,
                "fixed_amount_yuan": rule.fixed_amount_fen,
                "percentage": Decimal(rule.percentage_bp) / 100,
                "cap_yuan": rule.cap_fen,
                "vip_threshold": rule.vip_threshold,
                "vip_title": rule.vip_title,
            }
        )
        return render(request, "referrals/settings.html", {"form": form, "rule": rule}, status=status)

    def post(self, request):
        form = ReferralSettingsForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            rule = settings.referral_settings_get(tenant=require_tenant())
            fixed = data["fixed_amount_yuan"]
            percentage = data["percentage"]
            try:
                settings.referral_settings_update(
                    tenant=require_tenant(),
                    updated_by=request.user,
                    rule_kind=data["rule_kind"],
                    fixed_amount_fen=fixed if fixed is not None else rule.fixed_amount_fen,
                    percentage_bp=int(percentage * 100) if percentage is not None else rule.percentage_bp,
                    cap_fen=data["cap_yuan"] or None,
                    vip_threshold=data["vip_threshold"],
                    vip_title=data["vip_title"],
                )
            except ValidationError as error:
                apply_service_errors(
                    form,
                    error,
                    {
                        "fixed_amount_fen": "fixed_amount_yuan",
                        "percentage_bp": "percentage",
                        "cap_fen": "cap_yuan",
                    },
                )
            else:
                messages.success(request, _("转介绍奖励规则已保存，对之后签约的转介绍生效。"))
                return redirect("referrals:settings")
        return self.get(request, form=form, status=400)


# --- public share link ----------------------------------------------------------------------------


def _masked(name: str) -> str:
    return (name[:1] + "*" * max(len(name) - 1, 1)) if name else ""


class JoinView(View):
    """Public landing page of a share link: the friend leaves a phone number; a referral lead is created.

    No login. The tenant comes from the URL slug; the code is looked up inside that tenant only.
    """

    def _resolve(self, tenant_slug: str, code: str) -> tuple[Tenant, ReferralAccount]:
        tenant = Tenant.objects.filter(slug=tenant_slug, is_active=True).first()
        if tenant is None:
            raise Http404
        with tenant_context(tenant):
            account = ReferralAccount.objects.select_related("customer").filter(code=code.upper()).first()
        if account is None:
            raise Http404
        return tenant, account

    def _render(self, request, tenant, account, form, done=False, status=200) -> HttpResponse:
        context = {
            "tenant": tenant,
            "referrer_name": _masked(account.customer.name),
            "form": form,
            "done": done,
        }
        return render(request, "referrals/join.html", context, status=status)

    def get(self, request, tenant_slug: str, code: str):
        tenant, account = self._resolve(tenant_slug, code)
        return self._render(request, tenant, account, JoinForm())

    def post(self, request, tenant_slug: str, code: str):
        tenant, account = self._resolve(tenant_slug, code)
        form = JoinForm(request.POST)
        try:
            ratelimit.hit("referral_join_ip", ratelimit.client_ident(request))
        except ratelimit.RateLimited as error:
            return ratelimit.rate_limited_response(request, error)
        if not form.is_valid():
            return self._render(request, tenant, account, form, status=400)
        if form.cleaned_data["website"]:
            return self._render(request, tenant, account, JoinForm(), done=True)
        from customers.services.leads import lead_create

        data = form.cleaned_data
        note = _("；").join(
            part for part in [data["community"] and f"小区：{data['community']}", data["note"]] if part
        )
        try:
            with tenant_context(tenant):
                lead = lead_create(
                    tenant=tenant,
                    name=data["name"],
                    phone=data["phone"],
                    source_channel="referral",
                    note=note,
                    referral_code=account.code,
                )
                referred = Customer.objects.get(pk=lead.customer_id)
                try:
                    referrals.referral_create(
                        tenant=tenant,
                        referrer=account.customer,
                        referred=referred,
                        source=ReferralSource.LINK,
                    )
                except ValidationError:
                    pass  # already referred by someone (first referrer stays) or their own link: lead kept
        except ValidationError as error:
            apply_service_errors(form, error)
            return self._render(request, tenant, account, form, status=400)
        return self._render(request, tenant, account, JoinForm(), done=True)
