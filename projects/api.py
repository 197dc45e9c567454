"""REST API of projects: thin viewsets calling services; stage changes only through actions."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from crm.api import fields
from crm.api.pagination import StandardPagination
from crm.api.serializers import ModelSerializer, TenantStaffField
from crm.api.viewsets import TenantViewSetMixin
from crm.uploads import validate_document_file, validate_image_file
from customers.models import Customer
from projects import selectors, services
from projects.models import (
    STAGE_ORDER,
    AcceptanceKind,
    ChangeOrder,
    ChangeOrderLine,
    ConstructionCallback,
    DailyLog,
    DecisionChannel,
    DesignPlan,
    DesignPlanRevision,
    Inspection,
    InspectionItem,
    Material,
    MaterialReport,
    Project,
    Rectification,
    ShareLink,
    SitePhoto,
    Stage,
    StageHistory,
)


class TenantPKField(serializers.PrimaryKeyRelatedField):
    """FK to a tenant-owned model; the queryset is built per request from the scoped manager."""

    def __init__(self, model=None, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        from crm.tenancy import current_tenant

        if current_tenant() is None:
            return self.model._default_manager.none()
        return self.model.objects.all()


class ProjectFilterMixin:
    """Flat child routes: ``?project=ID`` narrows the list."""

    project_lookup = "project_id"

    def filter_by_project(self, queryset):
        value = self.request.query_params.get("project")
        if value in (None, ""):
            return queryset
        if not value.isdigit():
            raise DRFValidationError({"project": ["项目编号必须是数字。"]})
        return queryset.filter(**{self.project_lookup: int(value)})


PROJECT_PARAM = OpenApiParameter("project", OpenApiTypes.INT, description="只看该项目")


# --- Projects --------------------------------------------------------------------------------


class ProjectSerializer(ModelSerializer):
    customer = TenantPKField(model=Customer)
    designer = TenantStaffField(required=False, allow_null=True)
    project_manager = TenantStaffField(required=False, allow_null=True)
    supervisor = TenantStaffField(required=False, allow_null=True)
    service_owner = TenantStaffField(required=False, allow_null=True)
    budget = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "customer",
            "name",
            "address",
            "area_sqm",
            "style",
            "planned_start_on",
            "planned_end_on",
            "designer",
            "project_manager",
            "supervisor",
            "service_owner",
            "contract_number",
            "contract_amount",
            "signed_on",
            "handed_over_on",
            "cancelled_at",
            "stage",
            "stage_entered_at",
            "budget",
            "created_at",
        ]
        read_only_fields = [
            "contract_number",
            "contract_amount",
            "signed_on",
            "handed_over_on",
            "cancelled_at",
            "stage",
            "stage_entered_at",
            "budget",
            "created_at",
        ]

    def get_budget(self, project) -> int:
        return (project.contract_amount or 0) + (getattr(project, "approved_delta", None) or 0)


class ProjectUpdateSerializer(ProjectSerializer):
    class Meta(ProjectSerializer.Meta):
        read_only_fields = [*ProjectSerializer.Meta.read_only_fields, "customer"]


class AdvanceSerializer(serializers.Serializer):
    to_stage = serializers.ChoiceField(choices=Stage.choices, required=False, help_text="省略 = 前进一步")
    reason = fields.CharField(required=False, allow_blank=True, max_length=300)


class SignSerializer(serializers.Serializer):
    contract_number = fields.CharField(max_length=50)
    contract_amount = fields.MoneyField(min_value=1, help_text="合同金额（元）")
    signed_on = fields.DateField()


class HandoverSerializer(serializers.Serializer):
    handed_over_on = fields.DateField(required=False)


class CancelSerializer(serializers.Serializer):
    reason = fields.CharField(max_length=300)


class AcceptanceSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AcceptanceKind.choices)
    passed = serializers.BooleanField()
    notes = fields.CharField(required=False, allow_blank=True)
    accepted_on = fields.DateField(required=False)


class ShareLinkCreateSerializer(serializers.Serializer):
    valid_days = fields.IntegerField(min_value=1, max_value=365, default=90)


class ShareLinkSerializer(ModelSerializer):
    class Meta:
        model = ShareLink
        fields = ["id", "project", "prefix", "expires_at", "revoked_at", "created_at", "last_viewed_at"]
        read_only_fields = fields


class ShareLinkCreatedSerializer(ShareLinkSerializer):
    token = serializers.CharField(read_only=True)
    url = serializers.CharField(read_only=True)

    class Meta(ShareLinkSerializer.Meta):
        fields = [*ShareLinkSerializer.Meta.fields, "token", "url"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("stage", OpenApiTypes.STR, enum=STAGE_ORDER),
            OpenApiParameter("overdue", OpenApiTypes.BOOL),
            OpenApiParameter("staff", OpenApiTypes.INT),
            OpenApiParameter("customer", OpenApiTypes.INT),
        ]
    )
)
class ProjectViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Projects. Stage, contract and handover change only through the explicit actions."""

    model = Project
    serializer_class = ProjectSerializer
    pagination_class = StandardPagination
    required_permissions = {
        "*": "projects.view",
        "write": "projects.edit",
        "advance": "projects.move_stage",
        "sign": "projects.sign",
        "handover": "projects.handover",
        "cancel": "projects.cancel",
        "acceptance": "projects.acceptance",
        "share": "projects.share",
    }

    def get_tenant_queryset(self):
        params = self.request.query_params
        staff = params.get("staff", "")
        customer = params.get("customer", "")
        return selectors.projects_for_list(
            tenant=self.tenant,
            stage=params.get("stage", "") if params.get("stage") in STAGE_ORDER else "",
            overdue=params.get("overdue") in ("1", "true", "True"),
            staff_id=int(staff) if staff.isdigit() else None,
            customer_id=int(customer) if customer.isdigit() else None,
        )

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ProjectUpdateSerializer
        return super().get_serializer_class()

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.project_create(
            tenant=self.tenant,
            created_by=self.request.user,
            customer=data.pop("customer"),
            name=data.pop("name"),
            **data,
        )

    def perform_update(self, serializer):
        serializer.instance = services.project_update(
            tenant=self.tenant,
            project=serializer.instance,
            updated_by=self.request.user,
            **serializer.validated_data,
        )

    def _fresh(self, project) -> dict:
        return ProjectSerializer(self.get_tenant_queryset().get(pk=project.pk)).data

    @extend_schema(request=AdvanceSerializer, responses={200: ProjectSerializer})
    @action(detail=True, methods=["post"])
    def advance(self, request, pk=None):
        project = self.get_object()
        body = AdvanceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data.get("reason", "")
        if body.validated_data.get("to_stage"):
            project = services.project_move_stage(
                tenant=self.tenant,
                project=project,
                to_stage=body.validated_data["to_stage"],
                moved_by=request.user,
                reason=reason,
            )
        else:
            project = services.project_advance(
                tenant=self.tenant, project=project, advanced_by=request.user, reason=reason
            )
        return Response(self._fresh(project))

    @extend_schema(request=SignSerializer, responses={200: ProjectSerializer})
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        project = self.get_object()
        body = SignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = services.contract_sign(
            tenant=self.tenant, project=project, signed_by=request.user, **body.validated_data
        )
        return Response(self._fresh(project))

    @extend_schema(request=HandoverSerializer, responses={200: ProjectSerializer})
    @action(detail=True, methods=["post"])
    def handover(self, request, pk=None):
        project = self.get_object()
        body = HandoverSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = services.project_handover(
            tenant=self.tenant,
            project=project,
            handed_over_by=request.user,
            handed_over_on=body.validated_data.get("handed_over_on") or timezone.localdate(),
        )
        return Response(self._fresh(project))

    @extend_schema(request=CancelSerializer, responses={200: ProjectSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        project = self.get_object()
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = services.contract_cancel(
            tenant=self.tenant,
            project=project,
            cancelled_by=request.user,
            reason=body.validated_data["reason"],
        )
        return Response(self._fresh(project))

    @extend_schema(request=AcceptanceSerializer, responses={201: AcceptanceSerializer})
    @action(detail=True, methods=["post"])
    def acceptance(self, request, pk=None):
        project = self.get_object()
        body = AcceptanceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = services.acceptance_record(
            tenant=self.tenant, project=project, recorded_by=request.user, **body.validated_data
        )
        return Response(
            {"kind": row.kind, "passed": row.passed, "notes": row.notes, "accepted_on": row.accepted_on},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=ShareLinkCreateSerializer, responses={201: ShareLinkCreatedSerializer})
    @action(detail=True, methods=["post"])
    def share(self, request, pk=None):
        """Create a customer progress link; the token is shown only in this response."""
        project = self.get_object()
        body = ShareLinkCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        link, token = services.share_link_create(
            tenant=self.tenant,
            project=project,
            created_by=request.user,
            valid_days=body.validated_data["valid_days"],
        )
        data = ShareLinkSerializer(link).data
        data["token"] = token
        data["url"] = request.build_absolute_uri(reverse("projects:progress", args=[token]))
        return Response(data, status=status.HTTP_201_CREATED)


class ShareLinkViewSet(ProjectFilterMixin, TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    model = ShareLink
    serializer_class = ShareLinkSerializer
    required_permissions = {"*": "projects.share"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(ShareLink.objects.all())

    @extend_schema(request=None, responses={200: ShareLinkSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        link = services.share_link_revoke(tenant=self.tenant, link=self.get_object(), revoked_by=request.user)
        return Response(ShareLinkSerializer(link).data)


# --- Stage history ---------------------------------------------------------------------------


class StageHistorySerializer(ModelSerializer):
    changed_by_name = serializers.CharField(source="changed_by.display_name", read_only=True, default="")

    class Meta:
        model = StageHistory
        fields = [
            "id",
            "project",
            "from_stage",
            "to_stage",
            "direction",
            "reason",
            "changed_by",
            "changed_by_name",
            "changed_at",
        ]
        read_only_fields = fields


class StageHistoryViewSet(ProjectFilterMixin, TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Stage history (who, when, from, to, why). Change stages with POST /projects/{id}/advance/."""

    model = StageHistory
    serializer_class = StageHistorySerializer
    pagination_class = StandardPagination
    required_permissions = {"*": "projects.view"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(StageHistory.objects.select_related("changed_by"))


# --- Design plans ----------------------------------------------------------------------------


class DesignPlanRevisionSerializer(ModelSerializer):
    class Meta:
        model = DesignPlanRevision
        fields = [
            "version",
            "title",
            "style",
            "cost_min",
            "cost_max",
            "notes",
            "change_note",
            "changed_by",
            "changed_at",
        ]
        read_only_fields = fields


class DesignPlanSerializer(ModelSerializer):
    project = TenantPKField(model=Project)
    revisions = DesignPlanRevisionSerializer(many=True, read_only=True)
    change_note = fields.CharField(write_only=True, required=False, allow_blank=True)

    class Meta:
        model = DesignPlan
        fields = [
            "id",
            "project",
            "label",
            "title",
            "style",
            "cost_min",
            "cost_max",
            "notes",
            "version",
            "is_chosen",
            "chosen_at",
            "updated_at",
            "revisions",
            "change_note",
        ]
        read_only_fields = ["version", "is_chosen", "chosen_at", "updated_at"]


class DesignPlanUpdateSerializer(DesignPlanSerializer):
    class Meta(DesignPlanSerializer.Meta):
        read_only_fields = [*DesignPlanSerializer.Meta.read_only_fields, "project", "label"]


class DesignPlanViewSet(
    ProjectFilterMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Design options; an update is a new version (every revision kept)."""

    model = DesignPlan
    serializer_class = DesignPlanSerializer
    required_permissions = {"*": "projects.view", "write": "projects.design"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(DesignPlan.objects.prefetch_related("revisions"))

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return DesignPlanUpdateSerializer
        return super().get_serializer_class()

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("change_note", None)
        serializer.instance = services.design_plan_create(
            tenant=self.tenant, created_by=self.request.user, **data
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        note = data.pop("change_note", "")
        serializer.instance = services.design_plan_revise(
            tenant=self.tenant,
            plan=serializer.instance,
            revised_by=self.request.user,
            change_note=note,
            **data,
        )

    @extend_schema(request=None, responses={200: DesignPlanSerializer})
    @action(detail=True, methods=["post"])
    def choose(self, request, pk=None):
        plan = services.design_plan_choose(tenant=self.tenant, plan=self.get_object(), chosen_by=request.user)
        return Response(DesignPlanSerializer(self.get_tenant_queryset().get(pk=plan.pk)).data)


# --- Daily logs ------------------------------------------------------------------------------


class SitePhotoSerializer(ModelSerializer):
    url = serializers.FileField(source="image", read_only=True)
    thumbnail_url = serializers.FileField(source="thumbnail", read_only=True)

    class Meta:
        model = SitePhoto
        fields = ["id", "url", "thumbnail_url", "width", "height", "size_bytes", "uploaded_at"]
        read_only_fields = fields


class DailyLogSerializer(ModelSerializer):
    project = TenantPKField(model=Project)
    photos = SitePhotoSerializer(many=True, read_only=True)
    upload = serializers.ListField(
        child=serializers.FileField(validators=[validate_image_file]),
        write_only=True,
        required=False,
        help_text="照片（可多张，JPG/PNG/WebP）",
    )
    author_name = serializers.CharField(source="author.display_name", read_only=True, default="")

    class Meta:
        model = DailyLog
        fields = [
            "id",
            "project",
            "log_date",
            "work_done",
            "plan_tomorrow",
            "workers_on_site",
            "stage",
            "author",
            "author_name",
            "photos",
            "upload",
            "created_at",
        ]
        read_only_fields = ["stage", "author", "created_at"]


class PhotoUploadSerializer(serializers.Serializer):
    upload = serializers.ListField(child=serializers.FileField(validators=[validate_image_file]))


class DailyLogViewSet(
    ProjectFilterMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Daily site logs with photos (multipart ``upload`` fields; validated by content)."""

    model = DailyLog
    serializer_class = DailyLogSerializer
    pagination_class = StandardPagination
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    required_permissions = {"*": "projects.view", "write": "projects.daily_log"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(DailyLog.objects.select_related("author").prefetch_related("photos"))

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.daily_log_create(
            tenant=self.tenant, author=self.request.user, photos=data.pop("upload", []), **data
        )

    @extend_schema(
        request={"multipart/form-data": PhotoUploadSerializer},
        responses={201: SitePhotoSerializer(many=True)},
    )
    @action(detail=True, methods=["post"])
    def photos(self, request, pk=None):
        log = self.get_object()
        body = PhotoUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        photos = services.daily_log_add_photos(
            tenant=self.tenant, log=log, photos=body.validated_data["upload"]
        )
        return Response(SitePhotoSerializer(photos, many=True, context={"request": request}).data, status=201)


# --- Inspections -----------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.INT)
class StaffIdField(TenantStaffField):
    """A staff user id on a non-model field (rectification owner)."""


class InspectionItemSerializer(ModelSerializer):
    owner = StaffIdField(required=False, allow_null=True, write_only=True)
    due_on = fields.DateField(required=False, write_only=True)
    rectification = serializers.PrimaryKeyRelatedField(read_only=True)
    photos = SitePhotoSerializer(many=True, read_only=True)

    class Meta:
        model = InspectionItem
        fields = [
            "id",
            "category",
            "title",
            "passed",
            "note",
            "hazard",
            "owner",
            "due_on",
            "rectification",
            "photos",
        ]


class InspectionSerializer(ModelSerializer):
    project = TenantPKField(model=Project)
    items = InspectionItemSerializer(many=True)

    class Meta:
        model = Inspection
        fields = [
            "id",
            "project",
            "kind",
            "inspected_on",
            "inspector",
            "stage",
            "score",
            "notes",
            "rectification",
            "items",
        ]
        read_only_fields = ["kind", "inspector", "stage", "score", "rectification"]
        extra_kwargs = {"inspected_on": {"required": False}}


class InspectionPhotoSerializer(serializers.Serializer):
    item = fields.IntegerField(help_text="检查项 id（属于该质检）")
    upload = serializers.FileField(validators=[validate_image_file])


class InspectionViewSet(
    ProjectFilterMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """QC inspections; failed items open rectifications (see /rectifications/)."""

    model = Inspection
    serializer_class = InspectionSerializer
    pagination_class = StandardPagination
    required_permissions = {"*": "projects.view", "write": "projects.inspect"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(
            Inspection.objects.prefetch_related("items__photos", "items__rectification")
        )

    @extend_schema(
        request={"multipart/form-data": InspectionPhotoSerializer}, responses={201: SitePhotoSerializer}
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def photos(self, request, pk=None):
        """Attach a photo to one item of this inspection (validated like daily-log photos)."""
        inspection = self.get_object()
        body = InspectionPhotoSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = inspection.items.filter(pk=body.validated_data["item"]).first()
        if item is None:
            raise DRFValidationError({"item": ["该检查项不属于此质检。"]})
        photo = services.inspection_item_add_photo(
            tenant=self.tenant, item=item, photo=body.validated_data["upload"]
        )
        return Response(SitePhotoSerializer(photo, context={"request": request}).data, status=201)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.inspection_record(
            tenant=self.tenant,
            project=data["project"],
            inspector=self.request.user,
            items=data["items"],
            inspected_on=data.get("inspected_on"),
            notes=data.get("notes", ""),
        )


class RectificationSerializer(ModelSerializer):
    item_title = serializers.CharField(source="item.title", read_only=True)

    class Meta:
        model = Rectification
        fields = [
            "id",
            "project",
            "item",
            "item_title",
            "description",
            "owner",
            "due_on",
            "status",
            "closed_at",
            "created_at",
        ]
        read_only_fields = fields


class ReinspectSerializer(serializers.Serializer):
    passed = serializers.BooleanField()
    note = fields.CharField(required=False, allow_blank=True)


class RectificationViewSet(ProjectFilterMixin, TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    model = Rectification
    serializer_class = RectificationSerializer
    required_permissions = {"*": "projects.view", "reinspect": "projects.inspect"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(Rectification.objects.select_related("item"))

    @extend_schema(request=ReinspectSerializer, responses={200: RectificationSerializer})
    @action(detail=True, methods=["post"])
    def reinspect(self, request, pk=None):
        rectification = self.get_object()
        body = ReinspectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.rectification_reinspect(
            tenant=self.tenant, rectification=rectification, inspector=request.user, **body.validated_data
        )
        return Response(RectificationSerializer(self.get_tenant_queryset().get(pk=rectification.pk)).data)


# --- Change orders ---------------------------------------------------------------------------


class ChangeOrderLineSerializer(ModelSerializer):
    class Meta:
        model = ChangeOrderLine
        fields = ["description", "quantity", "unit", "unit_price", "amount"]
        read_only_fields = ["amount"]


class ChangeOrderSerializer(ModelSerializer):
    project = TenantPKField(model=Project)
    lines = ChangeOrderLineSerializer(many=True)

    class Meta:
        model = ChangeOrder
        fields = [
            "id",
            "project",
            "number",
            "title",
            "reason",
            "status",
            "amount_delta",
            "lines",
            "created_by",
            "created_at",
            "sent_at",
            "decided_at",
            "decided_by",
            "decision_channel",
            "decision_note",
        ]
        read_only_fields = [
            "number",
            "status",
            "amount_delta",
            "created_by",
            "created_at",
            "sent_at",
            "decided_at",
            "decided_by",
            "decision_channel",
            "decision_note",
        ]


class ChangeOrderUpdateSerializer(ChangeOrderSerializer):
    lines = ChangeOrderLineSerializer(many=True, required=False)

    class Meta(ChangeOrderSerializer.Meta):
        read_only_fields = [*ChangeOrderSerializer.Meta.read_only_fields, "project"]


class DecideSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    channel = serializers.ChoiceField(choices=[c for c in DecisionChannel.choices if c[0] != "customer_link"])
    note = fields.CharField(required=False, allow_blank=True, max_length=300)


class ChangeOrderViewSet(
    ProjectFilterMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Change orders: draft (editable) → sent → approved/rejected (immutable)."""

    model = ChangeOrder
    serializer_class = ChangeOrderSerializer
    pagination_class = StandardPagination
    required_permissions = {
        "*": "projects.view",
        "write": "projects.change_order",
        "decide": "projects.change_order_decide",
    }

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(ChangeOrder.objects.prefetch_related("lines"))

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ChangeOrderUpdateSerializer
        return super().get_serializer_class()

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.change_order_create(
            tenant=self.tenant,
            project=data["project"],
            created_by=self.request.user,
            title=data["title"],
            reason=data["reason"],
            lines=data["lines"],
        )

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.change_order_update(
            tenant=self.tenant,
            change_order=serializer.instance,
            updated_by=self.request.user,
            title=data.get("title"),
            reason=data.get("reason"),
            lines=data.get("lines"),
        )

    def _fresh(self, change_order):
        return ChangeOrderSerializer(self.get_tenant_queryset().get(pk=change_order.pk)).data

    @extend_schema(request=None, responses={200: ChangeOrderSerializer})
    @action(detail=True, methods=["post"])
    def send(self, request, pk=None):
        change_order = services.change_order_send(
            tenant=self.tenant, change_order=self.get_object(), sent_by=request.user
        )
        return Response(self._fresh(change_order))

    @extend_schema(request=DecideSerializer, responses={200: ChangeOrderSerializer})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Staff record the customer's decision (with the channel) on the customer's behalf."""
        change_order = self.get_object()
        body = DecideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change_order = services.change_order_decide(
            tenant=self.tenant, change_order=change_order, decided_by=request.user, **body.validated_data
        )
        return Response(self._fresh(change_order))


# --- Materials -------------------------------------------------------------------------------


class MaterialReportSerializer(ModelSerializer):
    class Meta:
        model = MaterialReport
        fields = ["id", "title", "file", "uploaded_at"]
        read_only_fields = ["id", "uploaded_at"]
        extra_kwargs = {"file": {"validators": [validate_document_file]}}


class MaterialSerializer(ModelSerializer):
    project = TenantPKField(model=Project)
    reports = MaterialReportSerializer(many=True, read_only=True)

    class Meta:
        model = Material
        fields = [
            "id",
            "project",
            "category",
            "name",
            "brand",
            "model_number",
            "batch_number",
            "supplier",
            "room",
            "quantity",
            "unit",
            "reports",
            "created_at",
        ]
        read_only_fields = ["created_at"]


class MaterialUpdateSerializer(MaterialSerializer):
    class Meta(MaterialSerializer.Meta):
        read_only_fields = [*MaterialSerializer.Meta.read_only_fields, "project"]


class MaterialViewSet(
    ProjectFilterMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Material traceability (brand, batch, supplier, room) with QC/test report files."""

    model = Material
    serializer_class = MaterialSerializer
    pagination_class = StandardPagination
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    required_permissions = {"*": "projects.view", "write": "projects.material"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(Material.objects.prefetch_related("reports"))

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return MaterialUpdateSerializer
        return super().get_serializer_class()

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.material_create(
            tenant=self.tenant, project=data.pop("project"), created_by=self.request.user, **data
        )

    @extend_schema(
        request={"multipart/form-data": MaterialReportSerializer}, responses={201: MaterialReportSerializer}
    )
    @action(detail=True, methods=["post"])
    def reports(self, request, pk=None):
        material = self.get_object()
        body = MaterialReportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = services.material_report_add(
            tenant=self.tenant,
            material=material,
            title=body.validated_data["title"],
            file=body.validated_data["file"],
        )
        return Response(MaterialReportSerializer(report, context={"request": request}).data, status=201)


# --- Construction callbacks ------------------------------------------------------------------


class CallbackSerializer(ModelSerializer):
    class Meta:
        model = ConstructionCallback
        fields = [
            "id",
            "project",
            "period",
            "due_on",
            "assigned_to",
            "satisfaction",
            "comments",
            "completed_at",
            "completed_by",
        ]
        read_only_fields = fields


class CallbackCompleteSerializer(serializers.Serializer):
    satisfaction = fields.IntegerField(min_value=1, max_value=5)
    comments = fields.CharField(required=False, allow_blank=True)


class CallbackViewSet(ProjectFilterMixin, TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    model = ConstructionCallback
    serializer_class = CallbackSerializer
    required_permissions = {"*": "projects.view", "complete": "projects.callback"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(ConstructionCallback.objects.all())

    @extend_schema(request=CallbackCompleteSerializer, responses={200: CallbackSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        callback = self.get_object()
        body = CallbackCompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        callback = services.callback_complete(
            tenant=self.tenant, callback=callback, completed_by=request.user, **body.validated_data
        )
        return Response(CallbackSerializer(callback).data)
