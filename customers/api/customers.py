"""Customers: the visible-customer field, serializer, lean list rows and the viewset."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from crm.api import fields
from crm.api.compiled import StatementCache
from crm.api.filters import LazyFilterBackend
from crm.api.lean import LeanRows
from crm.api.pagination import KeysetPagination
from crm.api.serializers import ModelSerializer, TenantPKField, TenantStaffField
from crm.api.viewsets import TenantViewSetMixin
from crm.permissions import has_permission
from crm.tenancy import current_tenant
from customers import io as customer_io
from customers import selectors, visibility
from customers.api_merge import CustomerMergeActionsMixin
from customers.filters import CustomerFilter
from customers.models import (
    Customer,
    FunctionalNeed,
    Segment,
    Style,
    mask_email,
    mask_phone,
)
from customers.services import customers, pool, privacy


@extend_schema_field(OpenApiTypes.INT)
class VisibleCustomerField(TenantPKField):
    """A customer the requesting user may see (``customers.visibility``); others are "not found"."""

    def __init__(self, **kwargs):
        super().__init__(model=Customer, **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if current_tenant() is None or request is None:
            return Customer._default_manager.none()
        return visibility.customers_visible_to(request.user)


# --------------------------------------------------------------------------- customers

READ_ONLY_CUSTOMER_FIELDS = [
    "id",
    "phone_display",
    "email_display",
    "budget_tier",
    "lifecycle",
    "loyalty",
    "activity",
    "value_fen",
    "value_tier",
    "follow_up_status",
    "system_tags",
    "signed_projects",
    "contract_total_fen",
    "credited_referrals",
    "is_vip",
    "last_touch_at",
    "next_follow_up_at",
    "in_pool",
    "pooled_at",
    "anonymised_at",
    "created_at",
    "updated_at",
]


@extend_schema_field({"type": "string", "format": "email", "maxLength": 254})
class EmailInputField(fields.CharField):
    """An optional e-mail address; the service validates it (code ``invalid_email``) and lower-cases it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 254)
        kwargs.setdefault("allow_blank", True)
        if "default" not in kwargs:
            kwargs.setdefault("required", False)
        super().__init__(**kwargs)


class CustomerSerializer(ModelSerializer):
    phone = fields.CharField(write_only=True, max_length=30, help_text=gettext_lazy("中国大陆手机号"))
    phone_display = serializers.SerializerMethodField(
        help_text=gettext_lazy("按角色脱敏的手机号，如 138****1234")
    )
    email = EmailInputField(
        write_only=True, help_text=gettext_lazy("邮箱（可选，保存为小写）；传空字符串清除")
    )
    email_display = serializers.SerializerMethodField(
        help_text=gettext_lazy("按角色脱敏的邮箱，如 z***@example.com；没有邮箱时为空字符串")
    )
    owner = TenantStaffField(required=False, allow_null=True)
    designer = TenantStaffField(required=False, allow_null=True)
    style_preferences = serializers.ListField(child=serializers.ChoiceField(Style.choices), required=False)
    functional_needs = serializers.ListField(
        child=serializers.ChoiceField(FunctionalNeed.choices), required=False
    )
    tags = serializers.ListField(child=fields.CharField(max_length=20), required=False)
    budget_fen = fields.MoneyField(required=False, allow_null=True, help_text=gettext_lazy("预算（分）"))

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "phone",
            "phone_display",
            "email",
            "email_display",
            *[f for f in customers.CUSTOMER_EDITABLE_FIELDS if f not in ("name", "phone", "email")],
            *READ_ONLY_CUSTOMER_FIELDS[3:],
        ]
        read_only_fields = READ_ONLY_CUSTOMER_FIELDS

    def get_phone_display(self, customer: Customer) -> str:
        return selectors.display_phone(self.context["request"].user, customer)

    def get_email_display(self, customer: Customer) -> str:
        return selectors.display_email(self.context["request"].user, customer)


def _phone_display(record: dict, context: dict) -> str:
    """``CustomerSerializer.phone_display`` for a ``.values()`` row (same rule as ``display_phone``)."""
    if record["anonymised_at"] is not None:
        return "—"
    if record["id"] in context["full_phone"]:
        return record["phone"].removeprefix("+86")
    return mask_phone(record["phone"])


def _email_display(record: dict, context: dict) -> str:
    """``CustomerSerializer.email_display`` for a ``.values()`` row (same rule as ``display_email``)."""
    if record["anonymised_at"] is not None or not record["email"]:
        return ""
    return record["email"] if record["id"] in context["full_phone"] else mask_email(record["email"])


CUSTOMER_ROWS = LeanRows(
    CustomerSerializer,
    computed={
        "phone_display": (("id", "owner", "phone", "anonymised_at"), _phone_display),
        "email_display": (("id", "email", "anonymised_at"), _email_display),
    },
)


# Query parameters a reusable list statement may depend on (see CustomerViewSet._statement_key).
STATEMENT_PARAMS = frozenset(CustomerFilter.base_filters) - {"owner", "designer", "silent_days"} | {
    "ordering",
    "page_size",
}
LIST_STATEMENTS = StatementCache()


@extend_schema(
    parameters=[OpenApiParameter("segment", OpenApiTypes.INT, description="应用已保存分群的筛选条件")]
)
class CustomerViewSet(
    CustomerMergeActionsMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Customers with every classification axis; filter on any axis, or by ``?segment=ID``."""

    model = Customer
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    filter_backends = [LazyFilterBackend, OrderingFilter]
    ordering_fields = ["created_at", "budget_fen", "last_touch_at", "name", "value_fen"]
    required_permissions = {
        "*": "customers.view",
        "write": "customers.edit",
        "reveal_phone": "customers.reveal_phone",
        "claim": "customers.claim",
        "anonymise": "customers.privacy",
        "personal_data": "customers.privacy",
        "export": "customers.export",
        "merge": "customers.merge",
        "reassign": "customers.reassign",
        "ownership": "customers.view",
    }

    def get_tenant_queryset(self):
        if self.action == "list":
            return selectors.customers_for_api_list(tenant=self.tenant, user=self.request_user)
        return selectors.customers_for_list(tenant=self.tenant, user=self.request_user)

    def list(self, request, *args, **kwargs):
        """Lean read path: the serializer's JSON from ``.values()`` rows (crm/api/lean.py); a first
        page of a shape seen before runs its compiled statement (crm/api/compiled.py)."""
        paginator = cast(KeysetPagination, self.paginator)  # REST_FRAMEWORK's DEFAULT_PAGINATION_CLASS
        key = self._statement_key(request, paginator)
        compiled = LIST_STATEMENTS.get(key) if key is not None else None
        page = paginator.paginate_compiled(compiled, request) if compiled is not None else None
        if page is None:
            queryset = CUSTOMER_ROWS.values(self.filter_queryset(self.get_queryset()))
            if key is None:
                page = paginator.paginate_queryset(queryset, request, view=self)
            else:
                page, compiled = paginator.paginate_and_compile(queryset, request)
                if compiled is not None:
                    LIST_STATEMENTS.put(key, compiled)
        # Whose full number this user may see, for the whole page at once (no query for managers).
        shown = [SimpleNamespace(pk=record["id"], owner_id=record["owner"]) for record in page]
        context = {"full_phone": visibility.customer_ids_with_full_phone(request.user, shown)}  # type: ignore[arg-type]  # reads pk and owner_id only
        return self.get_paginated_response(CUSTOMER_ROWS.rows(page, context))

    def _statement_key(self, request, paginator: KeysetPagination) -> tuple | None:
        """The shape of a list request whose SQL depends on nothing else, or ``None``.

        Only users who see every customer by role (no narrowing, which for sales may follow a tenant
        setting), and only parameters whose filtering is a pure function of their value
        (:data:`STATEMENT_PARAMS`: not ``owner``/``designer``, validated against the staff table;
        not ``segment``, read from the database; not ``silent_days``, relative to now). A cursor
        page's shape is its cursor's (:meth:`KeysetPagination.cursor_shape`), not its position:
        the position values are the statement's parameters.
        """
        tenant = current_tenant()
        user = request.user
        if tenant is None or not has_permission(user, "customers.view_all"):
            return None
        params = request.query_params
        cursor = None
        if paginator.cursor_query_param in params:
            cursor = paginator.cursor_shape(request)
            if cursor is None:
                return None
        if not params.keys() - {paginator.cursor_query_param} <= STATEMENT_PARAMS:
            return None
        shape = tuple(
            sorted(
                (name, tuple(values))
                for name, values in params.lists()
                if name != paginator.cursor_query_param
            )
        )
        return (tenant.pk, user.pk, tuple(user.roles or ()), shape, cursor)

    def filter_queryset(self, queryset):
        segment_id = self.request.query_params.get("segment")
        if segment_id:
            if not segment_id.isdigit():
                raise exceptions.ValidationError({"segment": [_("分群编号必须是数字。")]})
            segment = Segment.objects.filter(pk=int(segment_id)).first()
            if segment is None:
                raise exceptions.ValidationError({"segment": [_("分群不存在。")]})
            segment_filter = CustomerFilter(data=segment.filters, queryset=queryset, request=self.request)
            if not segment_filter.is_valid():
                raise exceptions.ValidationError({"segment": [_("分群的筛选条件已失效。")]})
            queryset = segment_filter.qs
        return super().filter_queryset(queryset)

    def perform_create(self, serializer):
        serializer.instance = customers.customer_create(
            tenant=self.tenant, created_by=self.request_user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = customers.customer_update(
            tenant=self.tenant,
            customer=serializer.instance,
            updated_by=self.request_user,
            **serializer.validated_data,
        )

    @extend_schema(
        request=None,
        responses={200: inline_serializer("RevealedPhone", {"phone": serializers.CharField()})},
    )
    @action(detail=True, methods=["post"], url_path="reveal-phone")
    def reveal_phone(self, request, pk=None):
        """The full number; every reveal is written to the audit log (PIPL)."""
        phone = privacy.customer_reveal_phone(
            tenant=self.tenant, customer=self.get_object(), user=request.user
        )
        return Response({"phone": phone})

    @extend_schema(request=None, responses={200: CustomerSerializer})
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        """Take a customer out of the lead pool (公海): first come, first served."""
        customer = self.get_object()
        pool.customer_claim_from_pool(tenant=self.tenant, customer=customer, user=request.user)
        customer.refresh_from_db()
        return Response(self.get_serializer(customer).data)

    @extend_schema(request=None, responses={200: CustomerSerializer})
    @action(detail=True, methods=["post"])
    def anonymise(self, request, pk=None):
        customer = privacy.customer_anonymise(
            tenant=self.tenant, customer=self.get_object(), user=request.user
        )
        return Response(self.get_serializer(customer).data)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"], url_path="personal-data")
    def personal_data(self, request, pk=None):
        """One customer's personal data (PIPL access request); audit-logged."""
        return Response(
            customer_io.customer_personal_data(
                tenant=self.tenant, user=request.user, customer=self.get_object()
            )
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("file_format", str, enum=["json", "csv", "xlsx"], description="默认 json")
        ],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.BINARY},
    )
    @action(detail=False, methods=["get"])
    def export(self, request):
        """The filtered list as JSON, CSV or Excel (managers only; audit-logged)."""
        file_format = request.query_params.get("file_format", "json")
        if file_format not in ("json", "csv", "xlsx"):
            raise exceptions.ValidationError({"file_format": [_("只支持 json、csv、xlsx。")]})
        content, content_type = customer_io.customers_export(
            tenant=self.tenant,
            user=request.user,
            queryset=self.filter_queryset(self.get_queryset()),
            file_format=file_format,
            filters=dict(request.query_params.lists()),
        )
        if file_format == "json":
            return Response({"count": len(content), "results": content})
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="customers.{file_format}"'
        return response
