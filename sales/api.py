"""Sales REST API: appointments and tasks. Thin: validate, call a service, return."""

from __future__ import annotations

import datetime

from django_filters import rest_framework as drf_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api.fields import CharField, IntegerField
from crm.api.serializers import ModelSerializer, TenantPKField, TenantStaffField
from crm.api.viewsets import TenantViewSetMixin
from customers.api import VisibleCustomerField
from projects.models import Project
from sales import services
from sales.models import Appointment, AppointmentChange, AppointmentStatus, Task


class AppointmentChangeSerializer(ModelSerializer):
    class Meta:
        model = AppointmentChange
        fields = [
            "changed_by",
            "changed_at",
            "from_starts_at",
            "from_ends_at",
            "to_starts_at",
            "to_ends_at",
            "reason",
        ]
        read_only_fields = fields


class AppointmentSerializer(ModelSerializer):
    customer = VisibleCustomerField()
    project = TenantPKField(model=Project, required=False, allow_null=True)
    staff = TenantStaffField()
    participants = TenantStaffField(many=True, required=False)
    remind_before_minutes = IntegerField(min_value=0, max_value=7 * 24 * 60, default=60, write_only=True)
    changes = AppointmentChangeSerializer(many=True, read_only=True)

    class Meta:
        model = Appointment
        fields = [
            "id",
            "customer",
            "project",
            "kind",
            "place",
            "starts_at",
            "ends_at",
            "staff",
            "participants",
            "status",
            "note",
            "outcome",
            "remind_before_minutes",
            "remind_at",
            "reminded_at",
            "changes",
            "created_at",
        ]
        read_only_fields = ["status", "outcome", "remind_at", "reminded_at", "created_at"]


class RescheduleSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    reason = CharField(max_length=200, required=False, default="")


class OutcomeSerializer(serializers.Serializer):
    outcome = CharField(max_length=500, required=False, default="")


class AppointmentFilter(drf_filters.FilterSet):
    customer = drf_filters.NumberFilter(field_name="customer_id")
    staff = drf_filters.NumberFilter(field_name="staff_id")
    status = drf_filters.ChoiceFilter(choices=AppointmentStatus.choices)
    starts_after = drf_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = drf_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")

    class Meta:
        model = Appointment
        fields: list[str] = []


class AppointmentViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Appointments; ``POST …/{id}/reschedule/``, ``complete/``, ``no-show/``, ``cancel/`` change them."""

    model = Appointment
    serializer_class = AppointmentSerializer
    required_permissions = {"*": "sales.view", "write": "sales.schedule"}
    filterset_class = AppointmentFilter

    def get_tenant_queryset(self):
        return (
            Appointment.objects.select_related("customer")
            .prefetch_related("participants", "changes")
            .order_by("starts_at", "id")
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        minutes = data.pop("remind_before_minutes")
        serializer.instance = services.appointment_create(
            tenant=self.tenant,
            actor=self.request_user,
            remind_before=datetime.timedelta(minutes=minutes),
            **data,
        )

    def _respond(self, appointment: Appointment) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=appointment.pk)).data)

    @extend_schema(request=RescheduleSerializer, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    def reschedule(self, request, pk=None):
        appointment = self.get_object()
        payload = RescheduleSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        appointment = services.appointment_reschedule(
            tenant=self.tenant, actor=request.user, appointment=appointment, **payload.validated_data
        )
        return self._respond(appointment)

    def _close(self, request, service) -> Response:
        appointment = self.get_object()
        payload = OutcomeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        appointment = service(
            tenant=self.tenant, actor=request.user, appointment=appointment, **payload.validated_data
        )
        return self._respond(appointment)

    @extend_schema(request=OutcomeSerializer, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self._close(request, services.appointment_complete)

    @extend_schema(request=OutcomeSerializer, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None):
        return self._close(request, services.appointment_mark_no_show)

    @extend_schema(request=OutcomeSerializer, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._close(request, services.appointment_cancel)


class TaskSerializer(ModelSerializer):
    customer = VisibleCustomerField()
    project = TenantPKField(model=Project, required=False, allow_null=True)
    assignee = TenantStaffField()
    is_overdue = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "customer",
            "project",
            "title",
            "note",
            "due_at",
            "assignee",
            "done_at",
            "created_at",
            "is_overdue",
        ]
        read_only_fields = ["done_at", "created_at"]

    def get_is_overdue(self, task: Task) -> bool:
        return task.done_at is None and task.due_at < datetime.datetime.now(tz=datetime.UTC)


class TaskFilter(drf_filters.FilterSet):
    customer = drf_filters.NumberFilter(field_name="customer_id")
    assignee = drf_filters.NumberFilter(field_name="assignee_id")
    open = drf_filters.BooleanFilter(field_name="done_at", lookup_expr="isnull")

    class Meta:
        model = Task
        fields: list[str] = []


class TaskViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """To-dos on a customer or project; ``POST …/{id}/complete/`` marks one done."""

    model = Task
    serializer_class = TaskSerializer
    required_permissions = {"*": "sales.view", "write": "sales.schedule"}
    filterset_class = TaskFilter

    def get_tenant_queryset(self):
        return Task.objects.order_by("due_at", "id")

    def perform_create(self, serializer):
        serializer.instance = services.task_create(
            tenant=self.tenant, actor=self.request_user, **serializer.validated_data
        )

    @extend_schema(request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        task = services.task_complete(tenant=self.tenant, actor=request.user, task=self.get_object())
        return Response(self.get_serializer(task).data)
