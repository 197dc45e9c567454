"""Payments REST API: plans (with milestones, paid and outstanding), receipts (record, void), template."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm import filters as bounded
from crm.api import fields
from crm.api.serializers import ModelSerializer, TenantPKField
from crm.api.viewsets import TenantViewSetMixin
from crm.tenancy import require_tenant, tenant_today
from payments import selectors, services
from payments.models import PaymentMethod, PaymentMilestone, PaymentPlan, PaymentPlanChange, PaymentReceipt


def _today():
    return tenant_today(require_tenant())


class MilestoneSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="milestone.id")
    position = serializers.IntegerField(source="milestone.position")
    name = serializers.CharField(source="milestone.name")
    share_bp = serializers.IntegerField(source="milestone.share_bp", help_text=gettext_lazy("比例（万分之）"))
    amount_fen = serializers.IntegerField(source="milestone.amount_fen", help_text=gettext_lazy("应收（分）"))
    paid_fen = serializers.IntegerField(help_text=gettext_lazy("已收（分）"))
    outstanding_fen = serializers.IntegerField(help_text=gettext_lazy("未收（分）"))
    trigger = serializers.CharField(source="milestone.trigger")
    triggered_at = serializers.DateTimeField(source="milestone.triggered_at", allow_null=True)
    due_on = serializers.DateField(source="milestone.due_on", allow_null=True)
    overdue = serializers.BooleanField()


class PlanChangeSerializer(ModelSerializer):
    class Meta:
        model = PaymentPlanChange
        fields = ["kind", "change_order", "delta_fen", "note", "created_at"]
        read_only_fields = fields


class PaymentPlanSerializer(ModelSerializer):
    total_amount_fen = serializers.IntegerField(read_only=True, help_text=gettext_lazy("应收合计（分）"))
    received_fen = serializers.IntegerField(read_only=True, help_text=gettext_lazy("已收（分）"))
    outstanding_fen = serializers.IntegerField(
        read_only=True, help_text=gettext_lazy("未收（分）；负数表示多收应退")
    )
    overdue_fen = serializers.IntegerField(read_only=True, help_text=gettext_lazy("逾期未收（分）"))
    milestones = serializers.SerializerMethodField()
    changes = PlanChangeSerializer(many=True, read_only=True)

    class Meta:
        model = PaymentPlan
        fields = [
            "id",
            "project",
            "customer",
            "contract_amount_fen",
            "adjustments_fen",
            "total_amount_fen",
            "received_fen",
            "outstanding_fen",
            "overdue_fen",
            "milestones",
            "changes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MilestoneSerializer(many=True))
    def get_milestones(self, plan) -> list[dict]:
        return list(MilestoneSerializer(selectors.plan_milestones(plan=plan, today=_today()), many=True).data)


class PaymentPlanFilter(bounded.FilterSet):
    project = bounded.IdFilter(field_name="project_id", label=gettext_lazy("项目"))
    customer = bounded.IdFilter(field_name="customer_id", label=gettext_lazy("客户"))
    overdue = bounded.FlagFilter(method="filter_overdue", label=gettext_lazy("仅有逾期"))
    outstanding = bounded.FlagFilter(method="filter_outstanding", label=gettext_lazy("仅有未收"))

    class Meta:
        model = PaymentPlan
        fields: list[str] = []

    def filter_overdue(self, queryset, name, value):  # noqa: ARG002 - django-filter signature
        return queryset.filter(overdue_fen__gt=0) if value else queryset

    def filter_outstanding(self, queryset, name, value):  # noqa: ARG002 - django-filter signature
        return queryset.filter(outstanding_fen__gt=0) if value else queryset


class PaymentPlanViewSet(
    TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Payment plans of signed projects (created at signing from the tenant's template; read-only:
    receipts and approved change orders move them). Amounts are integer fen (分)."""

    model = PaymentPlan
    serializer_class = PaymentPlanSerializer
    filterset_class = PaymentPlanFilter
    required_permissions = {"*": "payments.view"}

    def get_tenant_queryset(self):
        return (
            selectors.plans_for_list(today=_today())
            .prefetch_related(Prefetch("milestones", queryset=selectors.milestones_with_paid()), "changes")
            .order_by("id")
        )


class PaymentReceiptSerializer(ModelSerializer):
    plan = TenantPKField(model=PaymentPlan)
    milestone = TenantPKField(
        model=PaymentMilestone,
        required=False,
        allow_null=True,
        write_only=True,
        help_text=gettext_lazy("先抵这一期（不填则按顺序）"),
    )
    amount_fen = fields.MoneyField(min_value=1, help_text=gettext_lazy("金额（分），不超过计划未收金额"))
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    received_on = fields.DateField()
    receipt_number = fields.CharField(max_length=40, required=False, allow_blank=True, default="")
    note = fields.CharField(max_length=200, required=False, allow_blank=True, default="")
    allocations = serializers.SerializerMethodField()

    class Meta:
        model = PaymentReceipt
        fields = [
            "id",
            "plan",
            "milestone",
            "amount_fen",
            "method",
            "received_on",
            "receipt_number",
            "note",
            "recorded_by",
            "ledger_entry",
            "allocations",
            "voided_at",
            "voided_by",
            "void_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "recorded_by",
            "ledger_entry",
            "voided_at",
            "voided_by",
            "void_reason",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.DictField(child=serializers.IntegerField())))
    def get_allocations(self, receipt) -> list[dict]:
        return [{"milestone": a.milestone_id, "amount_fen": a.amount_fen} for a in receipt.allocations.all()]


class VoidSerializer(serializers.Serializer):
    reason = fields.CharField(max_length=200)


class PaymentReceiptFilter(bounded.FilterSet):
    plan = bounded.IdFilter(field_name="plan_id", label=gettext_lazy("计划"))
    customer = bounded.IdFilter(field_name="plan__customer_id", label=gettext_lazy("客户"))

    class Meta:
        model = PaymentReceipt
        fields: list[str] = []


class PaymentReceiptViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Money received against a plan (allocated to its milestones in order); ``POST …/{id}/void/`` voids."""

    model = PaymentReceipt
    serializer_class = PaymentReceiptSerializer
    filterset_class = PaymentReceiptFilter
    required_permissions = {"*": "payments.view", "write": "payments.record"}

    def get_tenant_queryset(self):
        return PaymentReceipt.objects.prefetch_related("allocations").order_by("id")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.payment_receipt_record(
            tenant=self.tenant, recorded_by=self.request_user, **data
        )

    @extend_schema(request=VoidSerializer, responses={200: PaymentReceiptSerializer})
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        receipt = self.get_object()
        body = VoidSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        receipt = services.payment_receipt_void(
            tenant=self.tenant,
            receipt=receipt,
            voided_by=self.request_user,
            reason=body.validated_data["reason"],
        )
        return Response(PaymentReceiptSerializer(receipt).data)


class TemplateStepSerializer(serializers.Serializer):
    name = fields.CharField(max_length=40)
    share_bp = fields.IntegerField(min_value=1, max_value=10_000, help_text=gettext_lazy("比例（万分之）"))
    trigger = serializers.ChoiceField(choices=services.TRIGGERS)
    due_days = fields.IntegerField(min_value=0, max_value=365, default=7)


class PaymentTemplateSerializer(serializers.Serializer):
    steps = serializers.ListField(child=TemplateStepSerializer(), min_length=1, max_length=12)


class PaymentTemplateView(TenantViewSetMixin, GenericAPIView):
    """The tenant's payment-plan template (applies to contracts signed afterwards)."""

    serializer_class = PaymentTemplateSerializer
    required_permissions = {"*": "payments.view", "write": "payments.configure"}

    def get_tenant_queryset(self):
        return PaymentPlan.objects.none()

    def _body(self) -> dict:
        steps = services.template_steps(tenant=self.tenant)
        return {"steps": [vars(step) for step in steps]}

    def get(self, request):
        return Response(self._body())

    def put(self, request):
        body = PaymentTemplateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.payment_template_set(
            tenant=self.tenant,
            steps=[services.Step(**step) for step in body.validated_data["steps"]],
            actor=self.request_user,
        )
        return Response(self._body())
