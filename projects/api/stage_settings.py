"""``/api/v1/stage-settings/``: the stage template page (names and planned days), through the API.

The stages and their order are fixed; a tenant renames them and sets their planned durations.
GET lists every stage; PUT/PATCH takes a list of ``{stage, name, planned_days}`` (PATCH: only the
stages given). Managers; a token needs the ``settings`` module.
"""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.api import fields
from crm.api.viewsets import TenantViewSetMixin
from crm.models import TokenModule
from projects import selectors
from projects.models import Stage, StageSetting
from projects.services import stages


class StageSettingSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices)
    name = fields.CharField(max_length=30)
    planned_days = fields.IntegerField(min_value=0, max_value=365)
    index = serializers.IntegerField(read_only=True)


LIST = StageSettingSerializer(many=True)


class StageSettingsView(TenantViewSetMixin, GenericAPIView):
    model = StageSetting
    serializer_class = StageSettingSerializer
    required_permissions = {"*": "projects.settings"}
    token_scope_module = TokenModule.SETTINGS
    pagination_class = None

    def get_tenant_queryset(self):
        return StageSetting.objects.all()

    def _current(self) -> list[dict]:
        return [
            {"stage": info.key, "name": info.name, "planned_days": info.planned_days, "index": info.index}
            for info in selectors.stage_settings(tenant=self.tenant)
        ]

    @extend_schema(responses={200: StageSettingSerializer(many=True)})
    def get(self, request):
        return Response(StageSettingSerializer(self._current(), many=True).data)

    @extend_schema(
        request=StageSettingSerializer(many=True), responses={200: StageSettingSerializer(many=True)}
    )
    def put(self, request):
        return self._update(request, every_stage=True)

    @extend_schema(
        request=StageSettingSerializer(many=True), responses={200: StageSettingSerializer(many=True)}
    )
    def patch(self, request):
        return self._update(request, every_stage=False)

    @transaction.atomic
    def _update(self, request, *, every_stage: bool) -> Response:
        serializer: serializers.ListSerializer = serializers.ListSerializer(
            child=StageSettingSerializer(), data=request.data, max_length=len(Stage.choices)
        )
        serializer.is_valid(raise_exception=True)
        given = {row["stage"]: row for row in serializer.validated_data}
        if every_stage and set(given) != set(Stage.values):
            raise serializers.ValidationError(
                {"non_field_errors": ["PUT 需要列出全部阶段；只改部分阶段请用 PATCH。"]}, code="incomplete"
            )
        for stage, row in given.items():
            stages.stage_setting_update(
                tenant=self.tenant, stage=stage, name=row["name"], planned_days=row["planned_days"]
            )
        return Response(StageSettingSerializer(self._current(), many=True).data)
