"""REST API of duplicate merge, undo, bulk reassignment and ownership history (issue 14 §2–3). Thin.

The customer-scoped actions are mixed into ``customers.api.CustomerViewSet`` (so they live at
``/api/v1/customers/{id}/merge/`` …); merge records have their own read-only routes with ``undo``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api import fields
from crm.api.serializers import ModelSerializer, TenantStaffField
from crm.api.viewsets import TenantViewSetMixin
from crm.models import Tenant
from crm.validators import INT_MAX
from customers import selectors
from customers.models import Customer, CustomerMerge, CustomerOwnership
from customers.services import merge as merge_service
from customers.services import reassign as reassign_service


@extend_schema_field(OpenApiTypes.INT)
class StaffIdField(TenantStaffField):
    """A staff user of the request's tenant, by id (documented as an integer)."""


class MergeRequestSerializer(serializers.Serializer):
    duplicate = fields.IntegerField(
        min_value=1, max_value=INT_MAX, help_text=gettext_lazy("被合并（归档）的重复客户编号")
    )
    fields = serializers.DictField(  # type: ignore[assignment]  # the request key is "fields"
        child=serializers.ChoiceField([merge_service.SURVIVOR, merge_service.DUPLICATE]),
        required=False,
        help_text=gettext_lazy(
            '逐字段选择保留哪一方的值，如 {"phone": "duplicate"}；未列出的字段保留本客户的值'
        ),
    )


class CustomerMergeSerializer(ModelSerializer):
    class Meta:
        model = CustomerMerge
        fields = [
            "id",
            "survivor",
            "duplicate",
            "merged_by",
            "merged_at",
            "field_choices",
            "duplicate_values",
            "survivor_values",
            "moved",
            "undone_at",
            "undone_by",
        ]
        read_only_fields = fields


class OwnershipPeriodSerializer(ModelSerializer):
    owner_name = serializers.SerializerMethodField()

    class Meta:
        model = CustomerOwnership
        fields = ["id", "owner", "owner_name", "started_at", "ended_at", "reason", "changed_by"]
        read_only_fields = fields

    def get_owner_name(self, period: CustomerOwnership) -> str:
        return str(period.owner) if period.owner_id else ""


class ReassignRequestSerializer(serializers.Serializer):
    customers = serializers.ListField(
        child=fields.IntegerField(min_value=1, max_value=INT_MAX),
        required=False,
        max_length=reassign_service.MAX_CUSTOMERS_PER_BATCH,
        help_text=gettext_lazy("要改派的客户编号；或用 from_owner 选择某位销售的全部客户和待响应线索"),
    )
    from_owner = StaffIdField(required=False, help_text=gettext_lazy("离职/交接的销售"))
    to_users = serializers.ListField(
        child=StaffIdField(),
        min_length=1,
        max_length=50,
        help_text=gettext_lazy("接手的销售（多位时轮流分配）"),
    )

    def validate(self, attrs):
        if not attrs.get("customers") and attrs.get("from_owner") is None:
            raise serializers.ValidationError(
                {"customers": [_("请选择客户，或指定交接的销售（from_owner）。")]}, code="required"
            )
        return attrs


class CustomerMergeActionsMixin:
    """Actions of ``CustomerViewSet``: merge into this customer, ownership history, bulk reassign."""

    if TYPE_CHECKING:  # provided by the viewset this is mixed into
        tenant: Tenant

        def get_object(self) -> Customer: ...

    def get_serializer_class(self):
        by_action = {"merge": MergeRequestSerializer, "reassign": ReassignRequestSerializer}
        return by_action.get(getattr(self, "action", None) or "") or super().get_serializer_class()  # type: ignore[misc]

    @extend_schema(request=MergeRequestSerializer, responses={201: CustomerMergeSerializer})
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Merge ``duplicate`` into this customer (managers). Every app's rows move here, the
        duplicate is archived pointing here; 400 codes: ``merge_self``, ``already_merged``,
        ``anonymised``, ``invalid_choice``, ``merge_referral_between``, ``merge_two_referrers``.
        Another tenant's (or an unknown) duplicate is 404."""
        survivor = self.get_object()
        body = MergeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        duplicate = Customer.objects.filter(pk=body.validated_data["duplicate"]).first()
        if duplicate is None:
            raise exceptions.NotFound(_("客户不存在。"))
        merge = merge_service.customer_merge(
            tenant=self.tenant,
            survivor=survivor,
            duplicate=duplicate,
            actor=request.user,
            field_choices=body.validated_data.get("fields") or {},
        )
        return Response(CustomerMergeSerializer(merge).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: OwnershipPeriodSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def ownership(self, request, pk=None):
        """Who held this customer from when to when (newest first; an empty owner is the pool)."""
        customer = self.get_object()
        periods = selectors.ownership_history(tenant=self.tenant, customer_id=customer.pk)
        return Response(OwnershipPeriodSerializer(periods, many=True).data)

    @extend_schema(
        request=ReassignRequestSerializer,
        responses={
            200: inline_serializer(
                "ReassignResult",
                {
                    "reassigned": serializers.IntegerField(),
                    "leads": serializers.IntegerField(),
                    "assignments": serializers.ListField(
                        child=inline_serializer(
                            "ReassignAssignment",
                            {"customer": serializers.IntegerField(), "owner": serializers.IntegerField()},
                        )
                    ),
                },
            )
        },
    )
    @action(detail=False, methods=["post"])
    def reassign(self, request):
        """Bulk reassignment (managers): the listed customers — or every customer and open lead of
        ``from_owner`` — to ``to_users``, round-robin; open leads get a fresh first-response window."""
        body = ReassignRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = list(body.validated_data.get("customers") or [])
        if body.validated_data.get("from_owner") is not None:
            ids += list(
                selectors.customers_to_reassign(
                    tenant=self.tenant, owner=body.validated_data["from_owner"]
                ).values_list("pk", flat=True)[: reassign_service.MAX_CUSTOMERS_PER_BATCH + 1]
            )
        result = reassign_service.customers_reassign(
            tenant=self.tenant, actor=request.user, customer_ids=ids, to_users=body.validated_data["to_users"]
        )
        return Response(
            {
                "reassigned": result.reassigned,
                "leads": result.leads,
                "assignments": [{"customer": c, "owner": o} for c, o in result.assignments],
            }
        )


class CustomerMergeViewSet(
    TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Merge records (the audit that holds what is needed to undo a merge); managers only."""

    model = CustomerMerge
    serializer_class = CustomerMergeSerializer
    required_permissions = {"*": "customers.merge"}

    def get_tenant_queryset(self):
        return selectors.merges_for_list(tenant=self.tenant)

    @extend_schema(request=None, responses={200: CustomerMergeSerializer})
    @action(detail=True, methods=["post"])
    def undo(self, request, pk=None):
        """Undo the merge: the duplicate returns with its values and every moved row; a moved fund
        balance returns through ledger entries. 400 codes: ``already_undone``, ``survivor_merged``,
        ``phone_taken``, ``merge_fund_spent``."""
        merge = merge_service.customer_merge_undo(
            tenant=self.tenant, merge=self.get_object(), actor=request.user
        )
        return Response(CustomerMergeSerializer(merge).data)
