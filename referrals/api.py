"""REST API: referrals, referral accounts (redeem/adjust/VIP decision), the read-only ledger, the rule.

Thin: serializers validate shapes, services decide. All routes are flat (see ``api_urls.py``).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api import fields
from crm.api.pagination import NewestFirstCursorPagination, StandardPagination
from crm.api.serializers import ModelSerializer, TenantPKField
from crm.api.viewsets import SingletonViewMixin, TenantViewSetMixin
from crm.tenancy import require_tenant
from crm.validators import MONEY_MAX
from customers.models import Customer
from projects.models import Project
from referrals import selectors
from referrals.filters import AccountFilter, LedgerFilter, ReferralFilter
from referrals.models import (
    CreditRuleKind,
    LedgerEntry,
    RedemptionTarget,
    Referral,
    ReferralAccount,
    ReferralSettings,
    VipEvent,
)
from referrals.services import accounts, ledger, referrals, settings, vip


class ReferralSerializer(ModelSerializer):
    referrer = TenantPKField(Customer)
    referred = TenantPKField(Customer)
    referrer_name = serializers.CharField(source="referrer.name", read_only=True)
    referred_name = serializers.CharField(source="referred.name", read_only=True)
    # Plain strings (not enums) in the schema: "status"/"source" enum names collide across apps.
    status = fields.CharField(read_only=True, help_text="referred/contacted/signed/credited/lost/cancelled")
    source = serializers.CharField(read_only=True, help_text="link/intake/manual")  # type: ignore[assignment]  # a field named like Field.source

    class Meta:
        model = Referral
        fields = [
            "id",
            "referrer",
            "referrer_name",
            "referred",
            "referred_name",
            "status",
            "source",
            "note",
            "contacted_at",
            "signed_at",
            "signed_project",
            "credited_at",
            "closed_at",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "source",
            "contacted_at",
            "signed_at",
            "signed_project",
            "credited_at",
            "closed_at",
            "created_at",
        ]


class ReferralStatusSerializer(serializers.Serializer):
    status = fields.RegexField(r"^(contacted|lost)$", help_text=gettext_lazy("contacted 或 lost"))


class ReferralViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Who referred whom. ``POST`` links a referrer by hand (one referrer per customer, no self-referral).

    Filters: ``?referrer=ID``, ``?referred=ID``, ``?status=``.
    """

    model = Referral
    serializer_class = ReferralSerializer
    pagination_class = StandardPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = ReferralFilter
    required_permissions = {"*": "referrals.view", "create": "referrals.edit", "status": "referrals.edit"}

    def get_tenant_queryset(self):
        return selectors.referrals_for_list(tenant=self.tenant)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = referrals.referral_create(
            tenant=self.tenant,
            referrer=data["referrer"],
            referred=data["referred"],
            source="manual",
            created_by=self.request_user,
            note=data.get("note", ""),
        )

    @extend_schema(request=ReferralStatusSerializer, responses={200: ReferralSerializer})
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        """Mark a referral contacted or lost (signed/credited/cancelled follow the contract)."""
        referral = self.get_object()
        body = ReferralStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        referral = referrals.referral_status_set(
            tenant=self.tenant,
            referral=referral,
            status=body.validated_data["status"],
            changed_by=request.user,
        )
        return Response(ReferralSerializer(referral).data)


class LedgerEntrySerializer(ModelSerializer):
    customer = serializers.IntegerField(source="account.customer_id", read_only=True)
    kind = serializers.CharField(read_only=True, help_text="credit/redemption/reversal/adjustment")

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "account",
            "customer",
            "kind",
            "amount_fen",
            "balance_after_fen",
            "shortfall_change_fen",
            "idempotency_key",
            "referral",
            "project",
            "redemption_target",
            "description",
            "reason",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class LedgerEntryViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """The append-only ledger, newest first (keyset pagination). Filter: ``?account=ID``."""

    model = LedgerEntry
    serializer_class = LedgerEntrySerializer
    pagination_class = NewestFirstCursorPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = LedgerFilter
    required_permissions = {"*": "referrals.view"}

    def get_tenant_queryset(self):
        return selectors.ledger_for_list(tenant=self.tenant)


class ReferralAccountSerializer(ModelSerializer):
    customer = TenantPKField(Customer)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    share_url = serializers.SerializerMethodField()

    class Meta:
        model = ReferralAccount
        fields = [
            "id",
            "customer",
            "customer_name",
            "code",
            "share_url",
            "balance_fen",
            "shortfall_fen",
            "credited_referrals",
            "is_vip",
            "vip_since",
            "vip_review_needed",
            "created_at",
        ]
        read_only_fields = [f for f in fields if f != "customer"]

    def get_share_url(self, account: ReferralAccount) -> str:
        request = self.context.get("request")
        return accounts.referral_share_url(tenant=require_tenant(), account=account, request=request)


class RedeemSerializer(serializers.Serializer):
    amount_fen = fields.MoneyField(min_value=1, help_text=gettext_lazy("抵扣金额（分），不得超过余额"))
    redemption_target = serializers.ChoiceField(
        choices=RedemptionTarget.choices, help_text=gettext_lazy("抵扣用途")
    )
    description = fields.CharField(
        max_length=200, help_text=gettext_lazy("抵扣了什么，如：客厅窗帘、二期增项单号")
    )
    project = TenantPKField(Project, required=False, allow_null=True)
    client_key = fields.CharField(
        max_length=60,
        required=False,
        allow_blank=True,
        help_text=gettext_lazy("请求编号：同一编号重试不会重复抵扣"),
    )


class AdjustSerializer(serializers.Serializer):
    amount_fen = fields.MoneyField(
        min_value=-MONEY_MAX, help_text=gettext_lazy("调整金额（分），负数表示扣减，不能为 0")
    )
    reason = fields.CharField(max_length=200, allow_blank=True)
    client_key = fields.CharField(max_length=60, required=False, allow_blank=True)

    def validate_amount_fen(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError(_("调整金额不能为 0。"))
        return value

    def validate_reason(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError(_("人工调整必须填写原因。"))
        return value


class VipDecisionSerializer(serializers.Serializer):
    keep = serializers.BooleanField(help_text=gettext_lazy("true 保留 VIP，false 取消 VIP"))
    reason = fields.CharField(max_length=200)


class VipEventSerializer(ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text="granted/review_needed/kept/revoked")

    class Meta:
        model = VipEvent
        fields = ["id", "account", "kind", "credited_referrals", "reason", "decided_by", "created_at"]
        read_only_fields = fields


class ReferralAccountViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """A customer's referral code, link and fund balance. ``POST`` with ``customer`` returns (or
    creates) that customer's account. Filter: ``?customer=ID``."""

    model = ReferralAccount
    serializer_class = ReferralAccountSerializer
    pagination_class = StandardPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = AccountFilter
    required_permissions = {
        "*": "referrals.view",
        "create": "referrals.edit",
        "redeem": "referrals.redeem",
        "adjust": "referrals.adjust",
        "vip_decision": "referrals.vip_decide",
    }

    def get_tenant_queryset(self):
        return selectors.accounts_for_list(tenant=self.tenant)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = accounts.referral_account_ensure(
            tenant=self.tenant, customer=serializer.validated_data["customer"]
        )
        return Response(self.get_serializer(account).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RedeemSerializer, responses={201: LedgerEntrySerializer})
    @action(detail=True, methods=["post"])
    def redeem(self, request, pk=None):
        """Spend the fund (never more than the balance); the entry records what it paid for."""
        account = self.get_object()
        body = RedeemSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        entry = ledger.referral_redeem(
            tenant=self.tenant,
            account=account,
            amount_fen=data["amount_fen"],
            target=data["redemption_target"],
            description=data["description"],
            project=data.get("project"),
            redeemed_by=request.user,
            client_key=data.get("client_key", ""),
        )
        return Response(LedgerEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AdjustSerializer, responses={201: LedgerEntrySerializer})
    @action(detail=True, methods=["post"])
    def adjust(self, request, pk=None):
        """Manager-only correction with a reason."""
        account = self.get_object()
        body = AdjustSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entry = ledger.referral_adjust(
            tenant=self.tenant,
            account=account,
            amount_fen=body.validated_data["amount_fen"],
            reason=body.validated_data["reason"],
            adjusted_by=request.user,
            client_key=body.validated_data.get("client_key", ""),
        )
        return Response(LedgerEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=VipDecisionSerializer, responses={201: VipEventSerializer})
    @action(detail=True, methods=["post"], url_path="vip-decision")
    def vip_decision(self, request, pk=None):
        """Manager keeps or revokes VIP; the decision and reason are logged."""
        account = self.get_object()
        body = VipDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        event = vip.referral_vip_decide(
            tenant=self.tenant,
            account=account,
            keep=body.validated_data["keep"],
            reason=body.validated_data["reason"],
            decided_by=request.user,
        )
        return Response(VipEventSerializer(event).data, status=status.HTTP_201_CREATED)


class ReferralSettingsSerializer(ModelSerializer):
    class Meta:
        model = ReferralSettings
        fields = [
            "id",
            "rule_kind",
            "fixed_amount_fen",
            "percentage_bp",
            "cap_fen",
            "vip_threshold",
            "vip_title",
            "updated_at",
        ]
        read_only_fields = ["id", "updated_at"]
        # Before a manager first saves the rule, the defaults are shown unsaved (no id, no time).
        extra_kwargs = {
            "rule_kind": {"choices": CreditRuleKind.choices},
            "percentage_bp": {"max_value": 10_000},
            "id": {"allow_null": True},
            "updated_at": {"allow_null": True},
        }


SETTINGS_WRITABLE_FIELDS = [
    "rule_kind",
    "fixed_amount_fen",
    "percentage_bp",
    "cap_fen",
    "vip_threshold",
    "vip_title",
]


class ReferralSettingsViewSet(SingletonViewMixin, TenantViewSetMixin, viewsets.GenericViewSet):
    """The tenant's credit rule (one per tenant): read by staff, changed by managers.

    ``PUT`` replaces the rule; a field left out keeps its current value.
    """

    model = ReferralSettings
    serializer_class = ReferralSettingsSerializer
    filter_backends: list = []
    required_permissions = {"*": "referrals.view", "write": "referrals.settings"}

    def get_singleton(self) -> ReferralSettings:
        return settings.referral_settings_get(tenant=self.tenant)

    @extend_schema(methods=["get"], responses={200: ReferralSettingsSerializer})
    @extend_schema(
        methods=["put"], request=ReferralSettingsSerializer, responses={200: ReferralSettingsSerializer}
    )
    @action(detail=False, methods=["get", "put"])
    def current(self, request):
        current = self.get_object()
        if request.method == "GET":
            return Response(ReferralSettingsSerializer(current).data)
        body = ReferralSettingsSerializer(current, data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        rule = settings.referral_settings_update(
            tenant=self.tenant,
            updated_by=request.user,
            **{field: data.get(field, getattr(current, field)) for field in SETTINGS_WRITABLE_FIELDS},
        )
        return Response(ReferralSettingsSerializer(rule).data)
