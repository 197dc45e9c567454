"""Aftercare REST API: thin serializers and viewsets over the services."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from aftercare import selectors
from aftercare.filters import PlanFilter, SurveyFilter, TicketFilter, VisitFilter
from aftercare.models import (
    MaintenancePlan,
    ServiceTicket,
    Survey,
    SurveyKind,
    SurveyTrigger,
    TicketCategory,
    TicketEvent,
    TicketPriority,
    TicketSource,
    TicketStatus,
    Visit,
)
from aftercare.services import plans as plans_services
from aftercare.services import surveys as surveys_services
from aftercare.services import tickets as tickets_services
from aftercare.services import visits as visits_services
from crm.api import fields
from crm.api.exceptions import validation_error_response
from crm.api.serializers import ModelSerializer, TenantPKField, TenantStaffField
from crm.api.viewsets import TenantViewSetMixin
from crm.models import Tenant
from crm.permissions import has_permission
from crm.ratelimit import ClientRateThrottle
from crm.tenancy import tenant_context
from crm.uploads import validate_image_file
from customers.models import Customer
from projects.models import Project


@extend_schema_field(OpenApiTypes.INT)
class StaffIdField(TenantStaffField):
    """A staff user id (typed for the schema where no model field describes it)."""


# --- plans -----------------------------------------------------------------------------------------


class PlanSerializer(ModelSerializer):
    kind_name = serializers.CharField(source="kind.name", read_only=True)
    kind_code = serializers.CharField(source="kind.code", read_only=True)
    project_name = serializers.CharField(source="project.name", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    assigned_to = TenantStaffField(required=False, allow_null=True)

    class Meta:
        model = MaintenancePlan
        fields = [
            "id",
            "project",
            "project_name",
            "customer",
            "customer_name",
            "kind",
            "kind_code",
            "kind_name",
            "due_on",
            "status",
            "assigned_to",
            "checklist",
            "customer_reminder_consent",
            "customer_reminder_consent_at",
            "escalated_at",
            "completed_at",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "project",
            "customer",
            "kind",
            "due_on",
            "status",
            "checklist",
            "customer_reminder_consent_at",
            "escalated_at",
            "completed_at",
            "created_at",
        ]


class PlanViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    GenericViewSet,
):
    """Maintenance plans (created by the handover). Staff may reassign and record SMS consent."""

    model = MaintenancePlan
    serializer_class = PlanSerializer
    required_permissions = {"*": "aftercare.view", "write": "aftercare.edit"}

    filterset_class = PlanFilter

    def get_tenant_queryset(self):
        return selectors.plans_for_list(tenant=self.tenant)

    def perform_update(self, serializer):
        data = serializer.validated_data
        kwargs = {}
        if "assigned_to" in data:
            kwargs["assigned_to"] = data["assigned_to"]
        if "customer_reminder_consent" in data:
            kwargs["customer_reminder_consent"] = data["customer_reminder_consent"]
        serializer.instance = plans_services.plan_update(
            tenant=self.tenant, plan=serializer.instance, **kwargs
        )


# --- visits ----------------------------------------------------------------------------------------


class VisitSerializer(ModelSerializer):
    plan = TenantPKField(MaintenancePlan)
    technician = TenantStaffField(required=False, allow_null=True)
    photos = serializers.SerializerMethodField()

    class Meta:
        model = Visit
        fields = [
            "id",
            "plan",
            "project",
            "customer",
            "scheduled_at",
            "technician",
            "status",
            "checklist_results",
            "findings",
            "customer_confirmed",
            "customer_signature",
            "satisfaction",
            "renovation_interest",
            "renovation_lead_id",
            "completed_at",
            "photos",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "project",
            "customer",
            "status",
            "checklist_results",
            "findings",
            "customer_confirmed",
            "customer_signature",
            "satisfaction",
            "renovation_interest",
            "renovation_lead_id",
            "completed_at",
            "photos",
            "created_at",
        ]

    def get_photos(self, visit) -> list[str]:
        return [photo.image.url for photo in visit.photos.all()]


class AftercarePhotoSerializer(serializers.Serializer):
    image = serializers.FileField(
        validators=[validate_image_file], help_text=gettext_lazy("JPG/PNG/WebP，≤10MB")
    )
    caption = fields.CharField(required=False, allow_blank=True, default="", max_length=100)


class VisitCompleteSerializer(serializers.Serializer):
    checklist_results = serializers.JSONField(required=False)
    findings = fields.CharField(required=False, allow_blank=True, default="")
    customer_confirmed = serializers.BooleanField(required=False, default=False)
    customer_signature = fields.CharField(required=False, allow_blank=True, default="", max_length=50)
    satisfaction = fields.IntegerField(required=False, allow_null=True, min_value=1, max_value=5)
    renovation_interest = serializers.BooleanField(required=False, default=False)


class VisitViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    GenericViewSet,
):
    """Visits: book one for an open plan, then ``complete`` it (closes the plan)."""

    model = Visit
    serializer_class = VisitSerializer
    required_permissions = {"*": "aftercare.view", "write": "aftercare.edit"}

    filterset_class = VisitFilter

    def get_tenant_queryset(self):
        return selectors.visits_for_list(tenant=self.tenant)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = visits_services.visit_create(
            tenant=self.tenant,
            plan=data["plan"],
            scheduled_at=data["scheduled_at"],
            technician=data.get("technician"),
            created_by=self.request_user,
        )

    @extend_schema(
        request={"multipart/form-data": AftercarePhotoSerializer}, responses={201: VisitSerializer}
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def photos(self, request, pk=None):
        """Attach an on-site photo (multipart ``image``, optional ``caption``)."""
        visit = self.get_object()
        payload = AftercarePhotoSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        visits_services.visit_photos_add(
            tenant=self.tenant,
            visit=visit,
            images=[payload.validated_data["image"]],
            caption=payload.validated_data["caption"],
        )
        return Response(VisitSerializer(self.get_object()).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=VisitCompleteSerializer, responses={200: VisitSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        visit = self.get_object()
        payload = VisitCompleteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        visit = visits_services.visit_complete(
            tenant=self.tenant, visit=visit, completed_by=request.user, **payload.validated_data
        )
        return Response(VisitSerializer(visit).data)


# --- tickets ---------------------------------------------------------------------------------------


class TicketEventSerializer(ModelSerializer):
    actor_name = serializers.CharField(source="actor.__str__", read_only=True, default="")

    class Meta:
        model = TicketEvent
        fields = ["from_status", "to_status", "actor", "actor_name", "note", "created_at"]
        read_only_fields = fields


class TicketSerializer(ModelSerializer):
    project = TenantPKField(Project)
    assigned_to = TenantStaffField(required=False, allow_null=True)
    category = serializers.ChoiceField(choices=TicketCategory.choices)
    priority = serializers.ChoiceField(choices=TicketPriority.choices, default=TicketPriority.NORMAL)

    class Meta:
        model = ServiceTicket
        fields = [
            "id",
            "project",
            "customer",
            "category",
            "description",
            "materials",
            "priority",
            "status",
            "source",
            "assigned_to",
            "under_warranty",
            "warranty_until",
            "first_response_due_at",
            "resolution_due_at",
            "first_responded_at",
            "resolved_at",
            "closed_at",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "customer",
            "status",
            "source",
            "under_warranty",
            "warranty_until",
            "first_response_due_at",
            "resolution_due_at",
            "first_responded_at",
            "resolved_at",
            "closed_at",
            "created_at",
        ]


class TicketDetailSerializer(TicketSerializer):
    events = TicketEventSerializer(many=True, read_only=True)
    photos = serializers.SerializerMethodField()

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "events", "photos"]
        read_only_fields = [*TicketSerializer.Meta.read_only_fields, "events", "photos"]

    def get_photos(self, ticket) -> list[str]:
        return [photo.image.url for photo in ticket.photos.all()]


class TicketTransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TicketStatus.choices)
    note = fields.CharField(required=False, allow_blank=True, default="")
    assigned_to = StaffIdField(required=False, allow_null=True)


class TicketViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    GenericViewSet,
):
    """Service tickets, listed by SLA urgency. Status changes go through ``transition``."""

    model = ServiceTicket
    required_permissions = {"*": "aftercare.view", "write": "aftercare.edit"}

    def get_serializer_class(self):
        return TicketDetailSerializer if self.action == "retrieve" else TicketSerializer

    filterset_class = TicketFilter

    def get_tenant_queryset(self):
        tickets = selectors.tickets_by_sla(tenant=self.tenant)
        if self.action == "retrieve":
            tickets = tickets.prefetch_related("events__actor", "photos")
        return tickets

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = tickets_services.ticket_create(
            tenant=self.tenant,
            project=data["project"],
            category=data["category"],
            description=data.get("description", ""),
            priority=data.get("priority", TicketPriority.NORMAL),
            materials=data.get("materials", ""),
            source=TicketSource.API,
            created_by=self.request_user,
            assigned_to=data.get("assigned_to"),
        )

    @extend_schema(
        request={"multipart/form-data": AftercarePhotoSerializer}, responses={201: TicketDetailSerializer}
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def photos(self, request, pk=None):
        """Attach a photo of the problem (multipart ``image``)."""
        ticket = self.get_object()
        payload = AftercarePhotoSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        tickets_services.ticket_photos_add(
            tenant=self.tenant, ticket=ticket, images=[payload.validated_data["image"]]
        )
        ticket = self.get_tenant_queryset().prefetch_related("events__actor", "photos").get(pk=ticket.pk)
        return Response(TicketDetailSerializer(ticket).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TicketTransitionSerializer, responses={200: TicketDetailSerializer})
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        ticket = self.get_object()
        payload = TicketTransitionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        ticket = tickets_services.ticket_transition(
            tenant=self.tenant,
            ticket=ticket,
            to_status=payload.validated_data["status"],
            actor=request.user,
            note=payload.validated_data.get("note", ""),
            assigned_to=payload.validated_data.get("assigned_to"),
        )
        ticket = self.get_tenant_queryset().prefetch_related("events__actor", "photos").get(pk=ticket.pk)
        return Response(TicketDetailSerializer(ticket).data)


# --- surveys ---------------------------------------------------------------------------------------


class SurveySerializer(ModelSerializer):
    customer = TenantPKField(Customer)
    project = TenantPKField(Project, required=False, allow_null=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    kind = serializers.ChoiceField(choices=SurveyKind.choices)
    trigger = serializers.ChoiceField(choices=SurveyTrigger.choices)
    token = serializers.SerializerMethodField(
        help_text="一次性问卷令牌：可用 POST /api/v1/surveys/answer/{token}/ 提交答案；仅有发送问卷权限时返回"
    )
    public_url = serializers.SerializerMethodField(
        help_text="客户填写问卷的公开链接，集成方可经自己的渠道发送；仅有发送问卷权限时返回"
    )

    class Meta:
        model = Survey
        fields = [
            "id",
            "customer",
            "customer_name",
            "project",
            "kind",
            "trigger",
            "visit",
            "ticket",
            "token",
            "public_url",
            "expires_at",
            "score",
            "comment",
            "answered_at",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "visit",
            "ticket",
            "expires_at",
            "score",
            "comment",
            "answered_at",
            "created_at",
        ]

    def _may_deliver(self) -> bool:
        """Whoever may send surveys may deliver the link through their own channel."""
        request = self.context.get("request")
        return request is not None and has_permission(request.user, "surveys.send")

    @extend_schema_field({"type": "string", "nullable": True})
    def get_token(self, survey: Survey) -> str | None:
        return survey.token if self._may_deliver() else None

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_public_url(self, survey: Survey) -> str | None:
        if not self._may_deliver():
            return None
        path = reverse("aftercare:survey-public", kwargs={"token": survey.token})
        return self.context["request"].build_absolute_uri(path)


class SurveyViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    GenericViewSet,
):
    """Satisfaction (CSAT 1–5) and NPS (0–10) surveys; creating one texts the customer a one-time link."""

    model = Survey
    serializer_class = SurveySerializer
    required_permissions = {"*": "surveys.view", "write": "surveys.send"}

    filterset_class = SurveyFilter

    def get_tenant_queryset(self):
        return selectors.surveys_for_list(tenant=self.tenant)

    def perform_create(self, serializer):
        import secrets

        data = serializer.validated_data
        serializer.instance = surveys_services.survey_create(
            tenant=self.tenant,
            customer=data["customer"],
            project=data.get("project"),
            kind=data["kind"],
            trigger=data["trigger"],
            dedupe_key=f"manual-{secrets.token_hex(8)}",
        )


class SurveyAnswerSerializer(serializers.Serializer):
    score = fields.IntegerField()
    comment = fields.CharField(required=False, allow_blank=True, default="", max_length=2000)


class SurveyAnsweredSerializer(serializers.Serializer):
    detail = fields.CharField()
    score = fields.IntegerField()


class SurveyAnswerThrottle(ClientRateThrottle):
    """Per-address limit on the public endpoints (survey answers, customer repair requests)."""

    scope = "aftercare_public_ip"


class SurveyAnswerView(APIView):
    """Public: the customer answers through the one-time link (no login; the token is the key)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [SurveyAnswerThrottle]

    @extend_schema(request=SurveyAnswerSerializer, responses={200: SurveyAnsweredSerializer})
    def post(self, request, token: str):
        """Errors are answered here: no tenant transaction wraps a public request, so nothing to roll
        back beyond the service's own (which already did)."""
        from django.core.exceptions import ValidationError

        payload = SurveyAnswerSerializer(data=request.data)
        if not payload.is_valid():
            return validation_error_response(serializers.ValidationError(payload.errors))
        try:
            survey = answer_public_survey(token=token, **payload.validated_data)
        except ValidationError as error:
            return validation_error_response(error)
        return Response({"detail": _("感谢您的反馈！"), "score": survey.score}, status=status.HTTP_200_OK)


def public_survey_tenant(token: str) -> Tenant | None:
    tenant_id = surveys_services.parse_survey_token(token)
    return Tenant.objects.filter(pk=tenant_id, is_active=True).first() if tenant_id else None


def answer_public_survey(*, token: str, score, comment: str = "") -> Survey:
    """Enter the token's tenant and answer; an unknown tenant is the same error as an unknown token."""
    from django.core.exceptions import ValidationError

    tenant = public_survey_tenant(token)
    if tenant is None:
        raise ValidationError({"token": _("问卷链接无效。")})
    with tenant_context(tenant):
        return surveys_services.survey_answer(tenant=tenant, token=token, score=score, comment=comment)
