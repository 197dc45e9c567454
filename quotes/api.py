"""Quotes REST API: the price catalogue, packages, quotations with lines, versions and exports.

Thin: validate the shape here, the rules (money, states, approval) live in ``quotes.services``.
Money is integer fen (``*_fen``); quantities and percentages are decimal strings so that an
over-precise value is refused with a stable code, never rounded.
"""

from __future__ import annotations

from typing import cast

from django.http import HttpResponse
from django_filters import rest_framework as drf_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from crm.api.fields import CharField, MoneyField
from crm.api.serializers import ModelSerializer, TenantPKField
from crm.api.viewsets import SingletonViewMixin, TenantViewSetMixin
from crm.filters import IdFilter
from customers.api import VisibleCustomerField
from projects.models import Project
from quotes import exports
from quotes.models import (
    CatalogueItem,
    DiscountKind,
    ItemCategory,
    LineKind,
    Package,
    Quotation,
    QuotationLine,
    QuotationStatus,
    QuoteSettings,
)
from quotes.services import catalogue, quotations

# --------------------------------------------------------------------------- catalogue


class CatalogueItemSerializer(ModelSerializer):
    unit_price_fen = MoneyField(help_text="单价，单位：分（整数）")

    class Meta:
        model = CatalogueItem
        fields = ["id", "name", "spec", "unit", "unit_price_fen", "category", "active", "updated_at"]
        read_only_fields = ["updated_at"]


class CatalogueImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=".xlsx：名称、规格、单位、单价（元）、类别、启用")


class CatalogueImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(read_only=True)
    updated = serializers.IntegerField(read_only=True)


class CatalogueItemFilter(drf_filters.FilterSet):
    category = drf_filters.ChoiceFilter(choices=ItemCategory.choices)
    active = drf_filters.BooleanFilter()

    class Meta:
        model = CatalogueItem
        fields: list[str] = []


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _file_response(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class CatalogueItemViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Price catalogue items; ``import/`` (.xlsx, all or nothing), ``export/`` (.xlsx, also the template)."""

    model = CatalogueItem
    serializer_class = CatalogueItemSerializer
    required_permissions = {"*": "quotes.view", "write": "quotes.manage_catalogue"}
    filterset_class = CatalogueItemFilter

    def get_tenant_queryset(self):
        return CatalogueItem.objects.order_by("category", "name", "id")

    def perform_create(self, serializer):
        serializer.instance = catalogue.item_create(
            tenant=self.tenant, actor=self.request_user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = catalogue.item_update(
            tenant=self.tenant, actor=self.request_user, item=serializer.instance, **serializer.validated_data
        )

    @extend_schema(request=CatalogueImportSerializer, responses={200: CatalogueImportResultSerializer})
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser],
        serializer_class=CatalogueImportSerializer,
    )
    def import_items(self, request):
        body = CatalogueImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = catalogue.catalogue_import(
            tenant=self.tenant, actor=request.user, upload=body.validated_data["file"]
        )
        return Response({"created": result.created, "updated": result.updated})

    @extend_schema(request=None, responses={(200, XLSX): OpenApiResponse(OpenApiTypes.BINARY)})
    @action(detail=False, methods=["get"], url_path="export")
    def export_items(self, request):
        content = exports.catalogue_xlsx(self.get_queryset())
        return _file_response(content, XLSX, "catalogue.xlsx")


class PackageSerializer(ModelSerializer):
    price_per_sqm_fen = MoneyField(help_text="每平方米单价，单位：分（整数）")
    includes = CharField(max_length=2000, required=False, allow_blank=True, default="")
    items = TenantPKField(model=CatalogueItem, many=True, required=False)

    class Meta:
        model = Package
        fields = ["id", "name", "price_per_sqm_fen", "includes", "items", "active", "updated_at"]
        read_only_fields = ["updated_at"]


class PackageViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Packages priced per m² (整装套餐), with the catalogue items they include."""

    model = Package
    serializer_class = PackageSerializer
    required_permissions = {"*": "quotes.view", "write": "quotes.manage_catalogue"}

    def get_tenant_queryset(self):
        return Package.objects.prefetch_related("items").order_by("name", "id")

    def perform_create(self, serializer):
        serializer.instance = catalogue.package_create(
            tenant=self.tenant, actor=self.request_user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        package = serializer.instance
        data = serializer.validated_data
        serializer.instance = catalogue.package_update(
            tenant=self.tenant,
            actor=self.request_user,
            package=package,
            name=data.get("name", package.name),
            price_per_sqm_fen=data.get("price_per_sqm_fen", package.price_per_sqm_fen),
            includes=data.get("includes", package.includes),
            items=data.get("items"),
            active=data.get("active", package.active),
        )


class QuoteSettingsSerializer(ModelSerializer):
    class Meta:
        model = QuoteSettings
        fields = ["approval_threshold_bp"]
        extra_kwargs = {"approval_threshold_bp": {"min_value": 0, "max_value": 10_000}}


class QuoteSettingsViewSet(SingletonViewMixin, TenantViewSetMixin, viewsets.GenericViewSet):
    """The discount approval threshold: a discount above this share of the subtotal (basis points,
    500 = 5%) waits for a manager."""

    model = QuoteSettings
    serializer_class = QuoteSettingsSerializer
    filter_backends: list = []
    required_permissions = {"*": "quotes.view", "write": "quotes.approve_discount"}

    def get_singleton(self) -> QuoteSettings:
        return QuoteSettings.objects.filter(tenant=self.tenant).first() or QuoteSettings(tenant=self.tenant)

    @extend_schema(methods=["get"], responses={200: QuoteSettingsSerializer})
    @extend_schema(methods=["put"], request=QuoteSettingsSerializer, responses={200: QuoteSettingsSerializer})
    @action(detail=False, methods=["get", "put"])
    def current(self, request):
        current = cast(QuoteSettings, self.get_object())
        if request.method == "PUT":
            body = QuoteSettingsSerializer(current, data=request.data)
            body.is_valid(raise_exception=True)
            current = catalogue.quote_settings_update(
                tenant=self.tenant,
                actor=request.user,
                approval_threshold_bp=body.validated_data.get(
                    "approval_threshold_bp", current.approval_threshold_bp
                ),
            )
        return Response(QuoteSettingsSerializer(current).data)


# --------------------------------------------------------------------------- quotations


class QuotationLineSerializer(ModelSerializer):
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, read_only=True)

    class Meta:
        model = QuotationLine
        fields = [
            "id",
            "position",
            "kind",
            "catalogue_item",
            "package",
            "name",
            "spec",
            "unit",
            "category",
            "unit_price_fen",
            "quantity",
            "amount_fen",
        ]
        read_only_fields = fields


class LineInputSerializer(serializers.Serializer):
    """A line to add: a catalogue item (price copied now), a package × area, or a free line."""

    kind = serializers.ChoiceField(choices=LineKind.choices)
    catalogue_item = TenantPKField(model=CatalogueItem, required=False, allow_null=True)
    package = TenantPKField(model=Package, required=False, allow_null=True)
    name = CharField(max_length=100, required=False, allow_blank=True, default="")
    spec = CharField(max_length=100, required=False, allow_blank=True, default="")
    unit = CharField(max_length=20, required=False, allow_blank=True, default="")
    category = serializers.ChoiceField(
        choices=ItemCategory.choices, required=False, allow_blank=True, default=""
    )
    unit_price_fen = MoneyField(required=False, allow_null=True, help_text="自定义行单价（分）")
    quantity = CharField(
        max_length=24,
        required=False,
        allow_blank=True,
        help_text="数量，十进制字符串，最多三位小数；套餐行留空则取报价面积",
    )


class QuotationSerializer(ModelSerializer):
    customer = VisibleCustomerField()
    project = TenantPKField(model=Project, required=False, allow_null=True)
    area_sqm = serializers.DecimalField(
        max_digits=8, decimal_places=2, required=False, allow_null=True, help_text="面积（㎡），最多两位小数"
    )
    lines = QuotationLineSerializer(many=True, read_only=True)
    new_lines = LineInputSerializer(
        many=True, required=False, write_only=True, help_text="创建或修改时：用这些明细替换全部明细"
    )

    class Meta:
        model = Quotation
        fields = [
            "id",
            "number",
            "version",
            "customer",
            "project",
            "title",
            "area_sqm",
            "note",
            "status",
            "subtotal_fen",
            "discount_kind",
            "discount_value",
            "discount_fen",
            "total_fen",
            "discount_approval",
            "discount_decided_by",
            "discount_decided_at",
            "discount_note",
            "sent_at",
            "decided_at",
            "decision_channel",
            "created_by",
            "created_at",
            "lines",
            "new_lines",
        ]
        read_only_fields = [
            "number",
            "version",
            "status",
            "subtotal_fen",
            "discount_kind",
            "discount_value",
            "discount_fen",
            "total_fen",
            "discount_approval",
            "discount_decided_by",
            "discount_decided_at",
            "discount_note",
            "sent_at",
            "decided_at",
            "decision_channel",
            "created_by",
            "created_at",
        ]


class QuotationUpdateSerializer(QuotationSerializer):
    class Meta(QuotationSerializer.Meta):
        read_only_fields = [*QuotationSerializer.Meta.read_only_fields, "customer", "project"]


class DiscountSerializer(serializers.Serializer):
    discount_kind = serializers.ChoiceField(choices=DiscountKind.choices)
    discount_amount_fen = MoneyField(required=False, default=0, help_text="金额折扣（分）")
    discount_percent = CharField(
        max_length=10,
        required=False,
        allow_blank=True,
        default="",
        help_text="百分比折扣，如 8.5，最多两位小数",
    )


class DiscountDecisionSerializer(serializers.Serializer):
    note = CharField(max_length=300, required=False, allow_blank=True, default="")


class CustomerDecisionSerializer(serializers.Serializer):
    accept = serializers.BooleanField()


class QuotationFilter(drf_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    project = IdFilter(field_name="project_id")
    status = drf_filters.ChoiceFilter(choices=QuotationStatus.choices)

    class Meta:
        model = Quotation
        fields: list[str] = []


def _lines(data: list[dict]) -> list[quotations.LineInput]:
    return [quotations.LineInput(**line) for line in data]


class QuotationViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Quotations: draft (editable: ``new_lines`` replaces the lines, ``add-line/``, ``discount/``) →
    ``send/`` → accepted / rejected (customer on the progress page, or ``decide/`` by staff);
    ``revise/`` makes the next version; ``versions/``; ``export-xlsx/`` and ``export-pdf/``."""

    model = Quotation
    serializer_class = QuotationSerializer
    required_permissions = {
        "*": "quotes.view",
        "write": "quotes.edit",
        "approve_discount": "quotes.approve_discount",
        "reject_discount": "quotes.approve_discount",
    }
    filterset_class = QuotationFilter

    def get_tenant_queryset(self):
        return (
            Quotation.objects.select_related("customer", "project")
            .prefetch_related("lines")
            .order_by("-created_at", "-id")
        )

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return QuotationUpdateSerializer
        return super().get_serializer_class()

    def _fresh(self, quotation: Quotation, status_code: int = 200) -> Response:
        fresh = self.get_tenant_queryset().get(pk=quotation.pk)
        return Response(
            QuotationSerializer(fresh, context=self.get_serializer_context()).data, status=status_code
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        lines = data.pop("new_lines", None)
        quotation = quotations.quotation_create(tenant=self.tenant, actor=self.request_user, **data)
        if lines:
            quotation = quotations.quotation_set_lines(
                tenant=self.tenant, actor=self.request_user, quotation=quotation, lines=_lines(lines)
            )
        serializer.instance = self.get_tenant_queryset().get(pk=quotation.pk)

    def perform_update(self, serializer):
        quotation = serializer.instance
        data = serializer.validated_data
        quotation = quotations.quotation_update(
            tenant=self.tenant,
            actor=self.request_user,
            quotation=quotation,
            title=data.get("title", quotation.title),
            area_sqm=data.get("area_sqm", quotation.area_sqm),
            note=data.get("note", quotation.note),
        )
        if "new_lines" in data:
            quotation = quotations.quotation_set_lines(
                tenant=self.tenant,
                actor=self.request_user,
                quotation=quotation,
                lines=_lines(data["new_lines"]),
            )
        serializer.instance = self.get_tenant_queryset().get(pk=quotation.pk)

    @extend_schema(request=LineInputSerializer, responses={200: QuotationSerializer})
    @action(detail=True, methods=["post"], url_path="add-line")
    def add_line(self, request, pk=None):
        quotation = self.get_object()
        body = LineInputSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        quotations.quotation_add_line(
            tenant=self.tenant, actor=request.user, quotation=quotation, line=_lines([body.validated_data])[0]
        )
        return self._fresh(quotation)

    @extend_schema(request=DiscountSerializer, responses={200: QuotationSerializer})
    @action(detail=True, methods=["post"])
    def discount(self, request, pk=None):
        """Above the tenant's threshold the discount waits for a manager (``discount_approval``: pending)."""
        quotation = self.get_object()
        body = DiscountSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        percent_bp = 0
        if data["discount_kind"] == DiscountKind.PERCENT:
            percent_bp = quotations.parse_percent(data["discount_percent"])
        quotation = quotations.quotation_set_discount(
            tenant=self.tenant,
            actor=request.user,
            quotation=quotation,
            kind=data["discount_kind"],
            amount_fen=data["discount_amount_fen"],
            percent_bp=percent_bp,
        )
        return self._fresh(quotation)

    def _decide_discount(self, request, approve: bool) -> Response:
        quotation = self.get_object()
        body = DiscountDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        quotation = quotations.quotation_decide_discount(
            tenant=self.tenant,
            actor=request.user,
            quotation=quotation,
            approve=approve,
            **body.validated_data,
        )
        return self._fresh(quotation)

    @extend_schema(request=DiscountDecisionSerializer, responses={200: QuotationSerializer})
    @action(detail=True, methods=["post"], url_path="approve-discount")
    def approve_discount(self, request, pk=None):
        return self._decide_discount(request, True)

    @extend_schema(request=DiscountDecisionSerializer, responses={200: QuotationSerializer})
    @action(detail=True, methods=["post"], url_path="reject-discount")
    def reject_discount(self, request, pk=None):
        return self._decide_discount(request, False)

    @extend_schema(request=None, responses={200: QuotationSerializer})
    @action(detail=True, methods=["post"])
    def send(self, request, pk=None):
        quotation = quotations.quotation_send(
            tenant=self.tenant, actor=request.user, quotation=self.get_object()
        )
        return self._fresh(quotation)

    @extend_schema(request=None, responses={201: QuotationSerializer})
    @action(detail=True, methods=["post"])
    def revise(self, request, pk=None):
        """The next version as a draft (lines copied); a sent version becomes superseded, read-only."""
        revision = quotations.quotation_revise(
            tenant=self.tenant, actor=request.user, quotation=self.get_object()
        )
        return self._fresh(revision, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=CustomerDecisionSerializer, responses={200: QuotationSerializer})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Staff record the customer's answer to a sent version (in person).

        On the progress page the customer answers with an SMS code."""
        quotation = self.get_object()
        body = CustomerDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        quotation = quotations.quotation_decide(
            tenant=self.tenant,
            quotation=quotation,
            accept=body.validated_data["accept"],
            channel=quotations.DecisionChannel.STAFF,
            decided_by=request.user,
        )
        return self._fresh(quotation)

    @extend_schema(request=None, responses={200: QuotationSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request, pk=None):
        quotation = self.get_object()
        rows = self.get_queryset().filter(number=quotation.number).order_by("version")
        return Response(QuotationSerializer(rows, many=True, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={(200, XLSX): OpenApiResponse(OpenApiTypes.BINARY)})
    @action(detail=True, methods=["get"], url_path="export-xlsx")
    def export_xlsx(self, request, pk=None):
        quotation = self.get_object()
        return _file_response(
            exports.quotation_xlsx(quotation), XLSX, exports.export_filename(quotation, "xlsx")
        )

    @extend_schema(request=None, responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)})
    @action(detail=True, methods=["get"], url_path="export-pdf")
    def export_pdf(self, request, pk=None):
        quotation = self.get_object()
        content = exports.quotation_pdf(quotation, company=self.tenant.name)
        return _file_response(content, "application/pdf", exports.export_filename(quotation, "pdf"))
