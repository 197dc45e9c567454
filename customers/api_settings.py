"""``/api/v1/customer-settings/``: the settings page of the customers module, through the API.

Business hours and days (the SLA clock), the lead SLA minutes, the pool deadlines, the
classification thresholds, assignment and visibility: the same values, the same validation (the
page's form) and the same side effects (classification recomputed) as ``/customers/settings/``.
Read and written by managers; a token needs the ``settings`` module.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.api import fields
from crm.api.viewsets import SingletonViewMixin, TenantViewSetMixin
from crm.models import TokenModule
from crm.money import fen_to_yuan
from customers.forms import CustomerSettingsForm
from customers.models import CustomerSettings, SalesVisibility
from customers.services import classification, settings

MAX_MINUTES = 60 * 24 * 30
MONEY_FIELDS = ("budget_low_below_fen", "budget_high_from_fen", "value_high_from_fen")


class CustomerSettingsSerializer(serializers.Serializer):
    business_hours_start = fields.TimeField()
    business_hours_end = fields.TimeField()
    business_days = serializers.ListField(
        child=fields.IntegerField(min_value=0, max_value=6), max_length=7, help_text="0=周一 … 6=周日"
    )
    lead_response_sla_minutes = fields.IntegerField(min_value=1, max_value=MAX_MINUTES)
    pool_after_minutes = fields.IntegerField(min_value=1, max_value=MAX_MINUTES)
    pool_after_idle_days = fields.IntegerField(min_value=0, max_value=3650)
    silent_after_days = fields.IntegerField(min_value=1, max_value=3650)
    budget_low_below_fen = fields.MoneyField(min_value=0, help_text="低预算上限（分，不含）")
    budget_high_from_fen = fields.MoneyField(min_value=0, help_text="高预算下限（分）")
    value_high_from_fen = fields.MoneyField(min_value=0, help_text="高价值下限（分）")
    auto_assign = serializers.BooleanField()
    reassign_on_breach = serializers.BooleanField()
    sales_visibility = serializers.ChoiceField(choices=SalesVisibility.choices)


def _representation(row: CustomerSettings) -> dict[str, Any]:
    data = {name: getattr(row, name) for name in CustomerSettingsForm.Meta.fields}
    data["lead_response_sla_minutes"] = row.tenant.lead_response_sla_minutes
    return dict(CustomerSettingsSerializer(data).data)


class CustomerSettingsView(SingletonViewMixin, TenantViewSetMixin, GenericAPIView):
    """The tenant's customer settings (one object per tenant): GET, PUT, PATCH."""

    model = CustomerSettings
    serializer_class = CustomerSettingsSerializer
    required_permissions = {"*": "customers.settings"}
    token_scope_module = TokenModule.SETTINGS

    def get_tenant_queryset(self):
        return CustomerSettings.objects.all()

    def get_singleton(self) -> CustomerSettings:
        return settings.customer_settings_for(tenant=self.tenant)

    def get(self, request):
        self.get_object()  # permission checks
        return Response(_representation(settings.customer_settings_for(tenant=self.tenant)))

    def put(self, request):
        return self._update(request, partial=False)

    def patch(self, request):
        return self._update(request, partial=True)

    @transaction.atomic
    def _update(self, request, *, partial: bool) -> Response:
        self.get_object()  # permission checks
        row = settings.customer_settings_for(tenant=self.tenant, lock=True)
        serializer = CustomerSettingsSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        values = {**_representation(row), **serializer.validated_data}
        form_data = {
            name: (value.strftime("%H:%M:%S") if hasattr(value, "strftime") else value)
            for name, value in values.items()
        }
        for name in MONEY_FIELDS:  # the page's form takes yuan; the API speaks fen
            form_data[name] = str(fen_to_yuan(values[name]))
        form = CustomerSettingsForm(data=form_data, instance=row)
        if not form.is_valid():
            raise ValidationError(
                {
                    ("non_field_errors" if name == "__all__" else name): [
                        ErrorDetail(" ".join(error.messages), code=error.code or "invalid")
                        for error in errors
                    ]
                    for name, errors in form.errors.as_data().items()
                }
            )
        form.save()
        settings.tenant_lead_sla_update(
            tenant=self.tenant,
            minutes=serializer.validated_data.get(
                "lead_response_sla_minutes", self.tenant.lead_response_sla_minutes
            ),
        )
        classification.customers_recompute_all(tenant=self.tenant)
        row.refresh_from_db()
        return Response(_representation(row))
