"""``GET /api/v1/events/?after=<id>``: the tenant's event log as a feed (the rows webhooks send)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response

from crm.api import fields
from crm.api.schema import CrmAutoSchema
from crm.api.serializers import ModelSerializer
from crm.api.since import since_instant
from crm.api.viewsets import TenantViewSetMixin
from crm.events import selectors
from crm.events.models import Event
from crm.events.types import EVENT_TYPES

FEED_DESCRIPTION = """The tenant's domain events in id order, for clients that sync incrementally.

Store the largest `id` you processed and ask again with `?after=<id>`; `next_after` in the answer
is the value to send next. An event appears only once every transaction that could still commit
a smaller id has finished, so following `next_after` never skips an event. The same event (same
`event_id`) is what a webhook endpoint receives; de-duplicate on `event_id`.

Event types: """ + ", ".join(f"`{name}`" for name in EVENT_TYPES)


class EventSerializer(ModelSerializer):
    class Meta:
        model = Event
        fields = ["id", "event_id", "type", "aggregate_type", "aggregate_id", "payload", "created_at"]
        read_only_fields = fields


class FeedQuerySerializer(serializers.Serializer):
    after = fields.IntegerField(min_value=0, required=False, default=0)
    limit = fields.IntegerField(min_value=1, max_value=selectors.FEED_MAX_LIMIT, required=False, default=100)
    type = serializers.MultipleChoiceField(choices=sorted(EVENT_TYPES), required=False)


FeedSerializer = inline_serializer(
    "EventFeed",
    {"results": EventSerializer(many=True), "next_after": serializers.IntegerField()},
)


class FeedSchema(CrmAutoSchema):
    """The feed is one object (``results`` + ``next_after``), not the array a ``list`` usually is."""

    def _is_list_view(self, serializer=None) -> bool:
        if getattr(self.view, "action", None) == "list":
            return False
        return super()._is_list_view(serializer)

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        if getattr(self.view, "action", None) == "list":
            return operation_id.removesuffix("_retrieve") + "_list"
        return operation_id


class EventViewSet(
    TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    model = Event
    schema = FeedSchema()
    serializer_class = EventSerializer
    required_permissions = {"*": "events.view"}
    pagination_class = None

    @extend_schema(
        description=FEED_DESCRIPTION,
        parameters=[
            OpenApiParameter("after", OpenApiTypes.INT, description="Return events with a larger id."),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"At most {selectors.FEED_MAX_LIMIT}."),
            OpenApiParameter("type", OpenApiTypes.STR, many=True, description="Only these event types."),
        ],
        responses=FeedSerializer,
    )
    def list(self, request, *args, **kwargs):
        query = FeedQuerySerializer(
            data={
                "after": request.query_params.get("after", 0),
                "limit": request.query_params.get("limit", 100),
                "type": request.query_params.getlist("type"),
            }
        )
        query.is_valid(raise_exception=True)
        rows = selectors.events_after(
            tenant=self.tenant,
            after=query.validated_data["after"],
            limit=query.validated_data["limit"],
            types=sorted(query.validated_data.get("type") or []),
            since=since_instant(request.query_params),
        )
        next_after = rows[-1].pk if rows else query.validated_data["after"]
        return Response({"results": EventSerializer(rows, many=True).data, "next_after": next_after})
