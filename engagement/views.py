"""Browser pages of engagement. Thin: parse, call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from crm import ratelimit
from crm.forms import apply_service_errors
from crm.permissions import RoleRequiredMixin, has_permission
from crm.tenancy import require_tenant, tenant_context
from customers.models import Customer
from engagement import forms, selectors
from engagement.models import Campaign, CampaignSignup, ConsentSource, Offer, PushRule
from engagement.services import campaigns as campaign_services
from engagement.services import consent as consent_services
from engagement.services import pushes as push_services
from engagement.services import tracking as tracking_services
from projects.models import Project
from quotes import selectors as quote_selectors


def _rate_limited(request) -> HttpResponse | None:
    """Public engagement pages (opt-out, campaign sign-up) share one per-address limit."""
    try:
        ratelimit.hit("engagement_public_ip", ratelimit.client_ident(request))
    except ratelimit.RateLimited as error:
        return ratelimit.rate_limited_response(request, error)
    return None


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
                messages.error(request, _("；").join(error.messages))
            else:
                messages.success(request, _("已记录营销授权。"))
        else:
            messages.error(request, _("；").join(str(m) for errors in form.errors.values() for m in errors))
        return redirect(reverse("customers:detail", args=[customer.pk]))


@method_decorator(csrf_exempt, name="dispatch")
class OptOutView(View):
    """One-click opt-out from a message link: no login, the signed token names tenant and customer.

    GET shows one button (link scanners prefetch GETs, so only the POST withdraws consent). The
    POST is CSRF-exempt: mail clients send RFC 8058 one-click unsubscribes
    (``List-Unsubscribe=One-Click``) to this URL without cookies; the unguessable signed token in
    the path is the authority, and the only effect is withdrawing that customer's consent.
    """

    template_name = "engagement/opt_out.html"

    def dispatch(self, request, *args, **kwargs):
        if (limited := _rate_limited(request)) is not None:
            return limited
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


class LeadScoringView(RoleRequiredMixin, View):
    """Open leads by score with their top factors; managers also see the held-out evaluation."""

    required_permission = "engagement.view"

    def get(self, request):
        tenant = require_tenant()
        return render(
            request,
            "engagement/scoring.html",
            {
                "tab": "scoring",
                "scores": selectors.scored_open_leads(tenant=tenant),
                "record": selectors.scoring_model(tenant=tenant),
                "can_manage": has_permission(request.user, "engagement.manage"),
            },
        )


class LeadScoringTrainView(RoleRequiredMixin, View):
    """Managers may retrain now (the same idempotent service the nightly job runs)."""

    required_permission = "engagement.manage"

    def post(self, request):
        from engagement.services.scoring import lead_scoring_train

        record = lead_scoring_train(tenant=require_tenant())
        messages.success(request, _("已重新训练：%(status)s") % {"status": record.get_status_display()})
        return redirect("engagement:scoring")


# --- campaigns and offers --------------------------------------------------------------------------


class CampaignListView(RoleRequiredMixin, View):
    """Campaigns with their figures; managers create campaigns here."""

    required_permission = "engagement.view"

    def get(self, request, form=None, status=200):
        tenant = require_tenant()
        campaigns = list(
            Campaign.objects.select_related("target_segment").order_by("-starts_on", "-id")[:100]
        )
        figures = selectors.campaign_figures(tenant=tenant, campaign_ids=[c.pk for c in campaigns])
        context = {
            "tab": "campaigns",
            "rows": [(campaign, figures[campaign.pk]) for campaign in campaigns],
            "form": form or forms.CampaignForm(),
            "can_manage": has_permission(request.user, "engagement.manage"),
        }
        return render(request, "engagement/campaigns.html", context, status=status)

    def post(self, request):
        if not has_permission(request.user, "engagement.manage"):
            raise PermissionDenied
        form = forms.CampaignForm(request.POST)
        if form.is_valid():
            try:
                campaign = campaign_services.campaign_save(
                    tenant=require_tenant(), created_by=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("已创建活动。"))
                return redirect("engagement:campaign-detail", pk=campaign.pk)
        return self.get(request, form=form, status=400)


class CampaignDetailView(RoleRequiredMixin, View):
    required_permission = "engagement.view"

    def get(self, request, pk: int, offer_form=None, status=200):
        tenant = require_tenant()
        campaign = get_object_or_404(Campaign, pk=pk)
        signups = list(
            CampaignSignup.objects.filter(campaign=campaign)
            .select_related("customer", "lead")
            .order_by("-signed_up_at")
        )
        context = {
            "tab": "campaigns",
            "campaign": campaign,
            "figures": selectors.campaign_figures(tenant=tenant, campaign_ids=[campaign.pk])[campaign.pk],
            "signups": signups,
            "offers": list(
                campaign.offers.annotate(redeemed=Count("redemptions")).order_by("valid_from", "id")
            ),
            "offer_form": offer_form or forms.OfferForm(),
            "redeem_form": forms.RedeemForm(campaign=campaign),
            "signup_url": request.build_absolute_uri(
                reverse("engagement:signup", args=[campaign_services.signup_token(campaign)])
            ),
            "can_manage": has_permission(request.user, "engagement.manage"),
        }
        return render(request, "engagement/campaign_detail.html", context, status=status)


class OfferCreateView(RoleRequiredMixin, View):
    required_permission = "engagement.manage"

    def post(self, request, pk: int):
        campaign = get_object_or_404(Campaign, pk=pk)
        form = forms.OfferForm(request.POST)
        if form.is_valid():
            try:
                campaign_services.offer_save(tenant=require_tenant(), campaign=campaign, **form.cleaned_data)
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("已添加优惠。"))
                return redirect("engagement:campaign-detail", pk=campaign.pk)
        return CampaignDetailView().get(request, pk, offer_form=form, status=400)


class SignupCheckInView(RoleRequiredMixin, View):
    required_permission = "engagement.consent"

    def post(self, request, pk: int):
        signup = get_object_or_404(CampaignSignup, pk=pk)
        campaign_services.signup_check_in(tenant=require_tenant(), signup=signup)
        messages.success(request, _("已签到。"))
        return redirect("engagement:campaign-detail", pk=signup.campaign_id)


class SignupRedeemView(RoleRequiredMixin, View):
    required_permission = "engagement.consent"

    def post(self, request, pk: int):
        tenant = require_tenant()
        signup = get_object_or_404(CampaignSignup.objects.select_related("campaign", "customer"), pk=pk)
        form = forms.RedeemForm(request.POST, campaign=signup.campaign)
        if not form.is_valid():
            messages.error(request, _("；").join(str(m) for errors in form.errors.values() for m in errors))
            return redirect("engagement:campaign-detail", pk=signup.campaign_id)
        number = form.cleaned_data["contract_number"].strip()
        project = (
            Project.objects.filter(contract_number=number, customer=signup.customer).first()
            if number
            else None
        )
        quotation = (
            quote_selectors.quotations_visible_to(request.user)
            .filter(number=number, customer=signup.customer)
            .order_by("-version")
            .first()
            if number and project is None
            else None
        )
        try:
            if number and project is None and quotation is None:
                raise ValidationError({"project": _("该客户没有此编号的报价或合同。")})
            campaign_services.offer_redeem(
                tenant=tenant,
                offer=form.cleaned_data["offer"],
                customer=signup.customer,
                project=project,
                quotation=quotation,
                redeemed_by=request.user,
            )
        except ValidationError as error:
            messages.error(request, _("；").join(error.messages))
        except PermissionDenied as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("已核销。"))
        return redirect("engagement:campaign-detail", pk=signup.campaign_id)


class QuotationRedeemView(RoleRequiredMixin, View):
    """From the quotation page: redeem one of the customer's campaign offers against this version."""

    required_permission = "engagement.consent"

    def post(self, request, pk: int):
        tenant = require_tenant()
        quotation = get_object_or_404(quote_selectors.quotations_visible_to(request.user), pk=pk)
        offer = Offer.objects.filter(pk=_int_or_none(request.POST.get("offer"))).first()
        try:
            if offer is None:
                raise ValidationError({"offer": ValidationError(_("请选择优惠。"), code="required")})
            campaign_services.offer_redeem(
                tenant=tenant,
                offer=offer,
                customer=quotation.customer,
                quotation=quotation,
                redeemed_by=request.user,
            )
        except ValidationError as error:
            messages.error(request, _("；").join(error.messages))
        except PermissionDenied as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("已核销到报价单。"))
        return redirect("quotes:detail", pk=quotation.pk)


def _int_or_none(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


class OfferDetailView(RoleRequiredMixin, View):
    """One offer and its redemptions, each with its target (quotation version or contract)."""

    required_permission = "engagement.view"

    def get(self, request, pk: int):
        tenant = require_tenant()
        offer = get_object_or_404(Offer.objects.select_related("campaign", "package"), pk=pk)
        redemptions = selectors.offer_redemptions(tenant=tenant, offer=offer)
        context = {"tab": "campaigns", "offer": offer, "redemptions": redemptions}
        return render(request, "engagement/offer_detail.html", context)


class PublicSignupView(View):
    """The campaign's public sign-up page: phone + name + consent; no login, the signed link names it."""

    template_name = "engagement/signup.html"

    def dispatch(self, request, token: str, *args, **kwargs):
        if (limited := _rate_limited(request)) is not None:
            return limited
        resolved = campaign_services.signup_resolve(token)
        if resolved is None:
            return render(request, self.template_name, {"invalid": True}, status=404)
        tenant, campaign_id = resolved
        with tenant_context(tenant):
            campaign = Campaign.objects.filter(pk=campaign_id).first()
            if campaign is None:
                return render(request, self.template_name, {"invalid": True}, status=404)
            self.tenant, self.campaign = tenant, campaign
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
            return response

    def get(self, request, form=None, status=200, done=False):
        context = {
            "tenant": self.tenant,
            "campaign": self.campaign,
            "form": form or forms.SignupForm(),
            "done": done,
        }
        return render(request, self.template_name, context, status=status)

    def post(self, request):
        form = forms.SignupForm(request.POST)
        if form.is_valid():
            try:
                campaign_services.campaign_signup(
                    tenant=self.tenant,
                    campaign=self.campaign,
                    name=form.cleaned_data["name"],
                    phone=form.cleaned_data["phone"],
                    consent=form.cleaned_data["consent"],
                    email=form.cleaned_data["email"],
                    email_consent=form.cleaned_data["email_consent"],
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                return self.get(request, done=True)
        return self.get(request, form=form, status=400)


# --- content library, push rules and their results -----------------------------------------------


class ContentListView(RoleRequiredMixin, View):
    """The content library; managers add items here."""

    required_permission = "engagement.view"

    def get(self, request, form=None, status=200):
        context = {
            "tab": "content",
            "items": selectors.content_items(tenant=require_tenant()),
            "form": form or forms.ContentItemForm(),
            "can_manage": has_permission(request.user, "engagement.manage"),
        }
        return render(request, "engagement/content.html", context, status=status)

    def post(self, request):
        if not has_permission(request.user, "engagement.manage"):
            raise PermissionDenied
        form = forms.ContentItemForm(request.POST)
        if form.is_valid():
            try:
                push_services.content_item_save(tenant=require_tenant(), **form.cleaned_data)
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("已添加内容。"))
                return redirect("engagement:content")
        return self.get(request, form=form, status=400)


class PushRuleListView(RoleRequiredMixin, View):
    """Push rules with their results (pushed vs control conversion); managers create rules here."""

    required_permission = "engagement.view"

    def get(self, request, form=None, status=200):
        context = {
            "tab": "pushes",
            "rows": selectors.push_rules_with_results(tenant=require_tenant()),
            "form": form or forms.PushRuleForm(),
            "can_manage": has_permission(request.user, "engagement.manage"),
        }
        return render(request, "engagement/push_rules.html", context, status=status)

    def post(self, request):
        if not has_permission(request.user, "engagement.manage"):
            raise PermissionDenied
        form = forms.PushRuleForm(request.POST)
        if form.is_valid():
            try:
                rule = push_services.push_rule_save(tenant=require_tenant(), **form.cleaned_data)
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("已创建推送规则。"))
                return redirect("engagement:push-rule-detail", pk=rule.pk)
        return self.get(request, form=form, status=400)


class PushRuleDetailView(RoleRequiredMixin, View):
    """One rule: "who would receive this now" (count and names), results and the latest pushes."""

    required_permission = "engagement.view"

    def get(self, request, pk: int):
        tenant = require_tenant()
        rule = get_object_or_404(PushRule.objects.select_related("item", "segment", "tenant"), pk=pk)
        context = {
            "tab": "pushes",
            "rule": rule,
            "preview": push_services.push_preview(tenant=tenant, rule=rule),
            "preview_customers": push_services.push_preview_customers(tenant=tenant, rule=rule),
            "results": selectors.push_rule_results(tenant=tenant, rule_ids=[rule.pk])[rule.pk],
            "dispatches": selectors.push_dispatches(tenant=tenant, rule=rule),
            "can_manage": has_permission(request.user, "engagement.manage"),
        }
        return render(request, "engagement/push_rule_detail.html", context)


class PushRuleRunView(RoleRequiredMixin, View):
    """Managers may run a scheduled rule now (the same idempotent service the beat scan runs)."""

    required_permission = "engagement.manage"

    def post(self, request, pk: int):
        rule = get_object_or_404(PushRule.objects.select_related("item", "tenant"), pk=pk)
        result = push_services.push_rule_run(tenant=require_tenant(), rule=rule)
        if result["skipped"] == "quiet_hours":
            messages.warning(request, _("现在是免打扰时段，未发送；免打扰结束后会自动发送。"))
        elif result["skipped"] == "inactive":
            messages.warning(request, _("规则已停用，未发送。"))
        else:
            counts = {"sent": result["sent"], "held": result["held_out"]}
            messages.success(request, _("已发送 %(sent)s 条，对照组 %(held)s 人。") % counts)
        return redirect("engagement:push-rule-detail", pk=rule.pk)


class TrackView(View):
    """Public landing page of a pushed item (no login; the signed token names tenant and push).

    Viewing records an open; "read more" goes through :class:`TrackClickView`, which records a click.
    """

    template_name = "engagement/track.html"

    def get(self, request, token: str):
        if (limited := _rate_limited(request)) is not None:
            return limited
        target = tracking_services.track_resolve(token)
        if target is None:
            return render(request, self.template_name, {"invalid": True}, status=404)
        with tenant_context(target.tenant):
            dispatch = tracking_services.dispatch_record_open(
                tenant=target.tenant, dispatch_id=target.dispatch_id
            )
            if dispatch is None:
                return render(request, self.template_name, {"invalid": True}, status=404)
            item = dispatch.rule.item
            context = {
                "tenant": target.tenant,
                "item": item,
                "click_url": reverse("engagement:track-click", args=[token]) if item.url else "",
                "opt_out_url": consent_services.opt_out_url(
                    tenant=target.tenant, customer_id=dispatch.customer_id, channel=dispatch.rule.channel
                ),
            }
            return render(request, self.template_name, context)


class TrackClickView(View):
    """The tracking redirect: records a click and leaves for the item's own link."""

    def get(self, request, token: str):
        if (limited := _rate_limited(request)) is not None:
            return limited
        target = tracking_services.track_resolve(token)
        if target is None:
            return render(request, TrackView.template_name, {"invalid": True}, status=404)
        with tenant_context(target.tenant):
            dispatch = tracking_services.dispatch_record_click(
                tenant=target.tenant, dispatch_id=target.dispatch_id
            )
            if dispatch is None or not dispatch.rule.item.url:
                return render(request, TrackView.template_name, {"invalid": True}, status=404)
            return HttpResponseRedirect(dispatch.rule.item.url)
