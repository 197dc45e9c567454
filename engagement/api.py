"""Engagement REST API: thin serializers and viewsets over the services."""

from __future__ import annotations

from django.db.models import Count
from django.utils.translation import gettext as _
from django_filters import rest_framework as drf_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from crm.api.serializers import ModelSerializer, TenantPKField
from crm.api.viewsets import TenantViewSetMixin
from customers.models import Customer, Segment
from engagement import selectors
from engagement.models import (
    Campaign,
    Consent,
    ConsentChannel,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    ContentItem,
    LeadScore,
    LeadScoringModel,
    Offer,
    OfferKind,
    PushRule,
    Redemption,
    ScoreMethod,
)
from engagement.services import campaigns as campaign_services
from engagement.services import consent as consent_services
from engagement.services import pushes as push_services
from projects.models import Project
from quotes.models import Package, Quotation

# Foreign keys filter by id (NumberFilter): a ModelChoiceFilter would build its queryset without a
# tenant (schema generation, class definition) — a known leak and a fail-closed error here.


class ConsentFilter(drf_filters.FilterSet):
    customer = drf_filters.NumberFilter(field_name="customer_id")
    channel = drf_filters.ChoiceFilter(choices=ConsentChannel.choices)
    state = drf_filters.ChoiceFilter(choices=ConsentState.choices)

    class Meta:
        model = Consent
        fields: list[str] = []


class LeadScoreFilter(drf_filters.FilterSet):
    lead = drf_filters.NumberFilter(field_name="lead_id")
    customer = drf_filters.NumberFilter(field_name="customer_id")
    method = drf_filters.ChoiceFilter(choices=ScoreMethod.choices)

    class Meta:
        model = LeadScore
        fields: list[str] = []


class CampaignFilter(drf_filters.FilterSet):
    channel = drf_filters.CharFilter(field_name="channel")
    is_active = drf_filters.BooleanFilter(field_name="is_active")

    class Meta:
        model = Campaign
        fields: list[str] = []


class OfferFilter(drf_filters.FilterSet):
    campaign = drf_filters.NumberFilter(field_name="campaign_id")
    kind = drf_filters.ChoiceFilter(choices=OfferKind.choices)

    class Meta:
        model = Offer
        fields: list[str] = []


# --- consents ------------------------------------------------------------------------------------


class ConsentEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentEvent
        fields = ["occurred_at", "channel", "state", "source", "version", "reason", "actor_name"]
        read_only_fields = fields


class ConsentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Consent
        fields = ["id", "customer", "channel", "state", "source", "version", "reason", "changed_at"]
        read_only_fields = fields


class ConsentDetailSerializer(ConsentSerializer):
    history = serializers.SerializerMethodField()

    class Meta(ConsentSerializer.Meta):
        fields = [*ConsentSerializer.Meta.fields, "history"]
        read_only_fields = fields

    def get_history(self, consent: Consent) -> list[dict]:
        events = ConsentEvent.objects.filter(customer_id=consent.customer_id, channel=consent.channel)
        return ConsentEventSerializer(events.order_by("occurred_at", "id"), many=True).data  # type: ignore[return-value]  # many=True: a list


class ConsentWriteSerializer(serializers.Serializer):
    customer = TenantPKField(model=Customer)
    channel = serializers.ChoiceField(ConsentChannel.choices)
    state = serializers.ChoiceField(ConsentState.choices)
    source = serializers.ChoiceField(ConsentSource.choices, default=ConsentSource.API)  # type: ignore[assignment]  # a field named like Field.source
    version = serializers.CharField(max_length=32, default=consent_services.CONSENT_VERSION)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate_source(self, value: str) -> str:
        if value in (ConsentSource.SIGNUP_PAGE, ConsentSource.OPT_OUT_LINK):
            raise serializers.ValidationError(_("该来源只能由报名页或退订链接产生。"))
        return value


class ConsentViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Current consent per customer and channel; POST records a change (history is append-only)."""

    model = Consent
    required_permissions = {"*": "engagement.view", "write": "engagement.consent"}
    filterset_class = ConsentFilter
    ordering_fields = ["changed_at"]

    def get_serializer_class(self):
        if self.action == "create":
            return ConsentWriteSerializer
        return ConsentDetailSerializer if self.action == "retrieve" else ConsentSerializer

    def get_tenant_queryset(self):
        return Consent.objects.order_by("-changed_at", "-id")

    @extend_schema(request=ConsentWriteSerializer, responses={201: ConsentSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ConsentWriteSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        consent = consent_services.consent_record(
            tenant=self.tenant, actor=request.user, **serializer.validated_data
        )
        return Response(ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)


# --- lead scores ---------------------------------------------------------------------------------


class LeadScoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = LeadScore
        fields = ["id", "lead", "customer", "score", "method", "factors", "computed_at"]
        read_only_fields = fields


class LeadScoringModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = LeadScoringModel
        fields = [
            "status",
            "reason",
            "trained_at",
            "cutoff_at",
            "train_leads",
            "train_positives",
            "test_leads",
            "test_positives",
            "model_auc",
            "model_precision_top20",
            "rules_auc",
            "rules_precision_top20",
            "training_seconds",
        ]
        read_only_fields = fields


class LeadScoreViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Scores of open and recent leads, best first (``?lead=``, ``?customer=``, ``?method=``)."""

    model = LeadScore
    serializer_class = LeadScoreSerializer
    required_permissions = {"*": "engagement.view", "evaluation": "engagement.manage"}
    filterset_class = LeadScoreFilter
    ordering_fields = ["score", "computed_at"]

    def get_tenant_queryset(self):
        return LeadScore.objects.order_by("-score", "id")

    @extend_schema(
        responses={
            200: LeadScoringModelSerializer,
            404: OpenApiResponse(description="No model has been trained for this tenant yet."),
        }
    )
    @action(detail=False, methods=["get"])
    def evaluation(self, request):
        """The held-out evaluation of the tenant's model beside the rules, and whether it is used."""
        record = LeadScoringModel.objects.first()
        if record is None:
            raise NotFound(_("尚未训练线索评分模型。"))
        return Response(LeadScoringModelSerializer(record).data)


# --- campaigns and offers ------------------------------------------------------------------------


class CampaignSerializer(serializers.ModelSerializer):
    target_segment = TenantPKField(model=Segment, required=False, allow_null=True)
    figures = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "code",
            "channel",
            "starts_on",
            "ends_on",
            "budget_fen",
            "spend_fen",
            "target_segment",
            "description",
            "is_active",
            "created_at",
            "figures",
        ]
        read_only_fields = ["id", "created_at", "figures"]
        # The service validates (dates in order, amounts): the model's CHECK constraint must not
        # become a serializer-level validator that queries without a tenant.
        validators: list = []

    def get_figures(self, campaign: Campaign) -> dict:
        figures = self.context.get("figures")
        if figures is None:
            figures = selectors.campaign_figures(tenant=campaign.tenant, campaign_ids=[campaign.pk])
        return figures.get(campaign.pk, {})


class CampaignViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Campaigns with their figures (leads, responded, measured, signed, contract value, cost, ROI)."""

    model = Campaign
    serializer_class = CampaignSerializer
    required_permissions = {"*": "engagement.view", "write": "engagement.manage"}
    filterset_class = CampaignFilter
    ordering_fields = ["starts_on", "created_at"]

    def get_tenant_queryset(self):
        return Campaign.objects.order_by("-starts_on", "-id")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None  # the API always paginates (REST_FRAMEWORK settings)
        figures = selectors.campaign_figures(tenant=self.tenant, campaign_ids=[c.pk for c in page])
        data = CampaignSerializer(
            page, many=True, context={**self.get_serializer_context(), "figures": figures}
        )
        return self.get_paginated_response(data.data)

    def perform_create(self, serializer):
        serializer.instance = campaign_services.campaign_save(
            tenant=self.tenant, created_by=self.request_user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        values = {
            field: getattr(serializer.instance, field)
            for field in serializer.fields
            if not serializer.fields[field].read_only
        }
        values.update(serializer.validated_data)
        serializer.instance = campaign_services.campaign_save(
            tenant=self.tenant, campaign=serializer.instance, **values
        )


class OfferSerializer(serializers.ModelSerializer):
    campaign = TenantPKField(model=Campaign, required=False, allow_null=True)
    package = TenantPKField(model=Package, required=False, allow_null=True)
    redeemed = serializers.SerializerMethodField()

    class Meta:
        model = Offer
        fields = [
            "id",
            "campaign",
            "name",
            "kind",
            "terms",
            "value_fen",
            "valid_from",
            "valid_until",
            "quantity",
            "package",
            "redeemed",
            "created_at",
        ]
        read_only_fields = ["id", "created_at", "redeemed"]
        validators: list = []

    def get_redeemed(self, offer: Offer) -> int:
        return getattr(offer, "redeemed_count", None) or offer.redemptions.count()


class OfferRedeemSerializer(serializers.Serializer):
    """One target: ``quotation`` (its current draft version takes the offer) or ``project`` (contract)."""

    customer = TenantPKField(model=Customer)
    quotation = TenantPKField(model=Quotation, required=False, allow_null=True)
    project = TenantPKField(model=Project, required=False, allow_null=True)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class RedemptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Redemption
        fields = [
            "id",
            "offer",
            "customer",
            "quotation",
            "project",
            "applied_discount_fen",
            "redeemed_at",
            "redeemed_by",
            "note",
        ]
        read_only_fields = fields


class OfferViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Vouchers, packages and discounts; ``POST /offers/{id}/redeem/`` redeems one for a customer."""

    model = Offer
    serializer_class = OfferSerializer
    required_permissions = {
        "*": "engagement.view",
        "write": "engagement.manage",
        "redeem": "engagement.consent",
    }
    filterset_class = OfferFilter

    def get_tenant_queryset(self):
        return Offer.objects.annotate(redeemed_count=Count("redemptions")).order_by("-valid_from", "-id")

    def perform_create(self, serializer):
        serializer.instance = campaign_services.offer_save(tenant=self.tenant, **serializer.validated_data)

    def perform_update(self, serializer):
        values = {
            field: getattr(serializer.instance, field)
            for field in serializer.fields
            if not serializer.fields[field].read_only
        }
        values.update(serializer.validated_data)
        serializer.instance = campaign_services.offer_save(
            tenant=self.tenant, offer=serializer.instance, **values
        )

    @extend_schema(request=OfferRedeemSerializer, responses={201: RedemptionSerializer})
    @action(detail=True, methods=["post"])
    def redeem(self, request, pk=None):
        offer = self.get_object()
        serializer = OfferRedeemSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        redemption = campaign_services.offer_redeem(
            tenant=self.tenant, offer=offer, redeemed_by=request.user, **serializer.validated_data
        )
        return Response(RedemptionSerializer(redemption).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: RedemptionSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def redemptions(self, request, pk=None):
        """The offer's redemptions with their target (at most 200, newest first)."""
        offer = self.get_object()
        rows = selectors.offer_redemptions(tenant=self.tenant, offer=offer)
        return Response(RedemptionSerializer(rows, many=True).data)


# --- content and push rules ----------------------------------------------------------------------


class ContentItemSerializer(serializers.ModelSerializer):
    tags = serializers.ListField(child=serializers.CharField(max_length=30), required=False, max_length=20)

    class Meta:
        model = ContentItem
        fields = ["id", "title", "kind", "summary", "url", "tags", "created_at"]
        read_only_fields = ["id", "created_at"]


class ContentItemViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The tenant's content library (articles, design cases, material lists, offers) with tags."""

    model = ContentItem
    serializer_class = ContentItemSerializer
    required_permissions = {"*": "engagement.view", "write": "engagement.manage"}

    def get_tenant_queryset(self):
        return ContentItem.objects.order_by("-created_at", "-id")

    def perform_create(self, serializer):
        serializer.instance = push_services.content_item_save(tenant=self.tenant, **serializer.validated_data)

    def perform_update(self, serializer):
        values = {
            field: getattr(serializer.instance, field)
            for field in serializer.fields
            if not serializer.fields[field].read_only
        }
        values.update(serializer.validated_data)
        serializer.instance = push_services.content_item_save(
            tenant=self.tenant, item=serializer.instance, **values
        )


class PushRuleSerializer(ModelSerializer):
    item = TenantPKField(model=ContentItem, required=False, allow_null=True)
    segment = TenantPKField(model=Segment, required=False, allow_null=True)
    audience_tags = serializers.ListField(child=serializers.CharField(max_length=30), required=False)
    audience_lifecycles = serializers.ListField(child=serializers.CharField(max_length=24), required=False)

    class Meta:
        model = PushRule
        fields = [
            "id",
            "name",
            "item",
            "channel",
            "segment",
            "audience_tags",
            "audience_lifecycles",
            "period",
            "max_per_customer_per_week",
            "quiet_start",
            "quiet_end",
            "control_percent",
            "trigger",
            "trigger_tag",
            "trigger_stage",
            "next_run_at",
            "is_active",
            "created_at",
        ]
        read_only_fields = ["id", "created_at", "next_run_at"]
        validators: list = []


class PushRuleViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Push rules; ``GET …/{id}/preview/`` counts who would receive it now, ``POST …/{id}/run/`` sends."""

    model = PushRule
    serializer_class = PushRuleSerializer
    required_permissions = {"*": "engagement.view", "write": "engagement.manage"}

    def get_tenant_queryset(self):
        return PushRule.objects.select_related("item").order_by("-created_at", "-id")

    def perform_create(self, serializer):
        serializer.instance = push_services.push_rule_save(tenant=self.tenant, **serializer.validated_data)

    @extend_schema(
        responses={
            200: inline_serializer(
                "PushRulePreview",
                {
                    "audience": serializers.IntegerField(),
                    "control": serializers.IntegerField(),
                    "already": serializers.IntegerField(),
                    "capped": serializers.IntegerField(),
                    "no_address": serializers.IntegerField(
                        help_text="邮件规则：已授权但没有邮箱地址的客户（记为未发送，补上地址后再发）"
                    ),
                    "would_send": serializers.IntegerField(),
                    "quiet_hours": serializers.BooleanField(),
                },
            )
        }
    )
    @action(detail=True, methods=["get"])
    def preview(self, request, pk=None):
        """Who would receive it now: audience (opted in), control, already decided, capped, without an
        e-mail address (e-mail rules), would send."""
        return Response(push_services.push_preview(tenant=self.tenant, rule=self.get_object()))

    @extend_schema(
        responses={
            200: inline_serializer(
                "PushRuleResults",
                {
                    **{
                        name: serializers.IntegerField()
                        for name in (
                            "pushed",
                            "control",
                            "pending",
                            "skipped",
                            "opened",
                            "clicked",
                            "pushed_converted",
                            "control_converted",
                        )
                    },
                    **{
                        name: serializers.FloatField(allow_null=True)
                        for name in ("pushed_rate", "control_rate", "open_rate", "click_rate", "lift_points")
                    },
                },
            )
        }
    )
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        """Pushed vs held-out control: counts, opens, clicks, conversions (90 days) and the lift."""
        rule = self.get_object()
        return Response(selectors.push_rule_results(tenant=self.tenant, rule_ids=[rule.pk])[rule.pk])

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "PushRuleRun",
                {
                    "sent": serializers.IntegerField(),
                    "held_out": serializers.IntegerField(),
                    "skipped": serializers.CharField(),
                },
            )
        },
    )
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        return Response(push_services.push_rule_run(tenant=self.tenant, rule=self.get_object()))
