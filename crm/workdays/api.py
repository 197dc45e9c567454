"""REST API of the working calendar: list a year, set or drop one day, import a whole year."""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm import filters as bounded
from crm.api import fields
from crm.api.serializers import ModelSerializer
from crm.api.viewsets import TenantViewSetMixin
from crm.models import TokenModule
from crm.workdays import services
from crm.workdays.models import CalendarDay, DayKind


class CalendarDaySerializer(ModelSerializer):
    class Meta:
        model = CalendarDay
        fields = ["id", "date", "kind", "name", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class CalendarDayEntrySerializer(serializers.Serializer):
    date = fields.DateField()
    kind = serializers.ChoiceField(choices=DayKind.choices)
    name = fields.CharField(max_length=50, required=False, default="", allow_blank=True)


class CalendarYearImportSerializer(serializers.Serializer):
    year = fields.IntegerField(min_value=1900, max_value=2200)
    days = serializers.ListField(child=CalendarDayEntrySerializer(), max_length=400)


class CalendarDayFilter(bounded.FilterSet):
    year = bounded.IntegerFilter(
        field_name="date__year", min_value=1900, max_value=2200, label=gettext_lazy("年份")
    )

    class Meta:
        model = CalendarDay
        fields: list[str] = []


class CalendarDayViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Dates that override the weekly business days (holidays, 调休 working weekends, closures).

    Every business-hours clock uses them: the lead first-response SLA and pool deadline, ticket
    SLAs, appointment reminders. ``POST`` with a date that already has an entry replaces it;
    ``POST …/import/`` replaces a whole year at once (all or nothing).
    """

    model = CalendarDay
    serializer_class = CalendarDaySerializer
    filterset_class = CalendarDayFilter
    required_permissions = {"*": "crm.view_calendar", "write": "crm.manage_calendar"}
    token_scope_module = TokenModule.SETTINGS

    def get_tenant_queryset(self):
        return CalendarDay.objects.order_by("date", "id")

    def perform_create(self, serializer):
        serializer.instance = services.calendar_day_set(tenant=self.tenant, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.calendar_day_delete(tenant=self.tenant, day=instance)

    @extend_schema(
        request=CalendarYearImportSerializer,
        responses={
            200: inline_serializer(
                "CalendarYearImported",
                {"year": serializers.IntegerField(), "written": serializers.IntegerField()},
            )
        },
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_year(self, request):
        body = CalendarYearImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entries = [services.DayEntry(**entry) for entry in body.validated_data["days"]]
        written = services.calendar_year_import(
            tenant=self.tenant, year=body.validated_data["year"], entries=entries
        )
        return Response({"year": body.validated_data["year"], "written": written}, status=status.HTTP_200_OK)
