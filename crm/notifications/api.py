"""REST API: a user's own notifications (list, unread filter, mark read), the tenant's robot
settings and the delivery/SMS records (managers). Thin: services decide, selectors read."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm import filters as bounded
from crm.api import fields
from crm.api.serializers import ModelSerializer
from crm.api.viewsets import SingletonViewMixin, TenantReadOnlyViewSet, TenantViewSetMixin
from crm.notifications import selectors, services
from crm.notifications.models import (
    Channel,
    Delivery,
    Notification,
    NotificationSettings,
    OutboundEmail,
    OutboundStatus,
    RobotKind,
    SmsMessage,
    mask_email,
)
from crm.notifications.sms import display_sms_text, mask_phone


class NotificationSerializer(ModelSerializer):
    is_read = serializers.BooleanField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "link", "created_at", "read_at", "is_read"]
        read_only_fields = fields


class NotificationFilter(django_filters.FilterSet):
    """Filters are declared, not generated: generating them queries the (tenant-scoped) manager."""

    unread = django_filters.BooleanFilter(method="filter_unread", label=gettext_lazy("仅未读"))
    kind = bounded.CharFilter(label=gettext_lazy("类型"))

    class Meta:
        model = Notification
        fields: list[str] = []

    def filter_unread(self, queryset, name, value):
        return queryset.filter(read_at__isnull=value) if value is not None else queryset


MarkedSerializer = inline_serializer(
    "NotificationsMarked", {"marked": serializers.IntegerField(), "unread": serializers.IntegerField()}
)
UnreadSerializer = inline_serializer("NotificationsUnread", {"unread": serializers.IntegerField()})


class NotificationViewSet(
    TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The requesting user's own notifications, newest first; nobody sees another user's."""

    model = Notification
    serializer_class = NotificationSerializer
    required_permissions = {"*": "notifications.view"}
    filterset_class = NotificationFilter
    search_fields = ["title", "body"]
    ordering_fields = ["created_at"]

    def get_tenant_queryset(self):
        return selectors.notifications_for_inbox(user=self.request_user)

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = self.get_object()
        services.notification_mark_read(
            tenant=self.tenant, user=request.user, notification_ids=[notification.pk]
        )
        notification.refresh_from_db()
        return Response(NotificationSerializer(notification).data)

    @extend_schema(request=None, responses={200: MarkedSerializer})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        marked = services.notification_mark_read(tenant=self.tenant, user=request.user, all=True)
        return Response({"marked": marked, "unread": selectors.unread_count(user=request.user)})

    @extend_schema(responses={200: UnreadSerializer})
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        return Response({"unread": selectors.unread_count(user=request.user)})


class NotificationSettingsSerializer(ModelSerializer):
    robot_kind = serializers.ChoiceField(choices=RobotKind.choices, allow_blank=True, required=False)
    robot_url = fields.CharField(max_length=500, allow_blank=True, required=False)
    robot_secret = fields.CharField(
        max_length=200,
        allow_blank=True,
        allow_null=True,
        required=False,
        write_only=True,
        help_text=gettext_lazy("省略或留空则保持不变；传 null 清除已保存的密钥"),
    )
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = NotificationSettings
        fields = ["robot_kind", "robot_url", "robot_enabled", "robot_secret", "has_secret", "updated_at"]
        read_only_fields = ["has_secret", "updated_at"]

    def get_has_secret(self, obj: NotificationSettings) -> bool:
        return bool(obj.robot_secret)


class NotificationSettingsView(SingletonViewMixin, TenantViewSetMixin, GenericAPIView):
    """The tenant's WeChat Work / DingTalk group robot (one settings object per tenant)."""

    model = NotificationSettings
    serializer_class = NotificationSettingsSerializer
    required_permissions = {"*": "notifications.manage_settings"}

    def get_tenant_queryset(self):
        return NotificationSettings.objects.all()

    def get_singleton(self) -> NotificationSettings:
        return services.notification_settings_get(tenant=self.tenant)

    def get(self, request):
        robot = services.notification_settings_get(tenant=self.tenant)
        return Response(self.get_serializer(robot).data)

    def put(self, request):
        return self._update(request, partial=False)

    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        current = services.notification_settings_get(tenant=self.tenant)
        serializer = self.get_serializer(current, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # Explicit null clears the stored secret; omitted or blank keeps it.
        secret = (
            ""
            if "robot_secret" in data and data["robot_secret"] is None
            else data.get("robot_secret") or None
        )
        robot = services.notification_settings_update(
            tenant=self.tenant,
            robot_kind=data.get("robot_kind", current.robot_kind if partial else ""),
            robot_url=data.get("robot_url", current.robot_url if partial else ""),
            robot_enabled=data.get("robot_enabled", current.robot_enabled if partial else False),
            robot_secret=secret,
        )
        return Response(self.get_serializer(robot).data)


class DeliverySerializer(ModelSerializer):
    notification_title = serializers.CharField(source="notification.title", read_only=True)
    recipient = serializers.IntegerField(source="notification.recipient_id", read_only=True)
    recipient_name = serializers.CharField(source="notification.recipient.__str__", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "notification",
            "notification_title",
            "recipient",
            "recipient_name",
            "channel",
            "target",
            "status",
            "attempts",
            "last_attempt_at",
            "next_attempt_at",
            "sent_at",
            "last_error",
            "created_at",
        ]
        read_only_fields = fields


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OutboundStatus.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    notification = bounded.IdFilter(field_name="notification_id")

    class Meta:
        model = Delivery
        fields: list[str] = []


class DeliveryViewSet(TenantReadOnlyViewSet):
    """What went out where, with attempts and the last error (managers, read-only)."""

    model = Delivery
    serializer_class = DeliverySerializer
    required_permissions = {"*": "notifications.view_deliveries"}
    filterset_class = DeliveryFilter
    ordering_fields = ["created_at", "sent_at"]

    def get_tenant_queryset(self):
        return selectors.deliveries_for_list(tenant=self.tenant)


class SmsMessageSerializer(ModelSerializer):
    phone = serializers.SerializerMethodField(help_text=gettext_lazy("脱敏手机号"))
    message = serializers.SerializerMethodField(
        help_text=gettext_lazy("短信内容（验证码等一次性密码已脱敏）")
    )

    class Meta:
        model = SmsMessage
        fields = [
            "id",
            "phone",
            "message",
            "status",
            "attempts",
            "backend",
            "provider_message_id",
            "last_attempt_at",
            "next_attempt_at",
            "sent_at",
            "last_error",
            "created_at",
        ]
        read_only_fields = fields

    def get_phone(self, obj: SmsMessage) -> str:
        return mask_phone(obj.phone)

    def get_message(self, obj: SmsMessage) -> str:
        return display_sms_text(obj)


class SmsMessageFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OutboundStatus.choices)

    class Meta:
        model = SmsMessage
        fields: list[str] = []


class SmsMessageViewSet(TenantReadOnlyViewSet):
    """Every SMS sent to customers, phone masked (managers, read-only)."""

    model = SmsMessage
    serializer_class = SmsMessageSerializer
    required_permissions = {"*": "notifications.view_deliveries"}
    filterset_class = SmsMessageFilter

    def get_tenant_queryset(self):
        return SmsMessage.objects.order_by("-created_at", "-id")


class OutboundEmailSerializer(ModelSerializer):
    address = serializers.SerializerMethodField(help_text=gettext_lazy("脱敏邮箱，如 z***@example.com"))

    class Meta:
        model = OutboundEmail
        fields = [
            "id",
            "address",
            "subject",
            "status",
            "attempts",
            "last_attempt_at",
            "next_attempt_at",
            "sent_at",
            "last_error",
            "created_at",
        ]
        read_only_fields = fields

    def get_address(self, obj: OutboundEmail) -> str:
        return mask_email(obj.address)


class OutboundEmailFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OutboundStatus.choices)

    class Meta:
        model = OutboundEmail
        fields: list[str] = []


class OutboundEmailViewSet(TenantReadOnlyViewSet):
    """Every e-mail sent to customers (marketing pushes), address masked (managers, read-only)."""

    model = OutboundEmail
    serializer_class = OutboundEmailSerializer
    required_permissions = {"*": "notifications.view_deliveries"}
    filterset_class = OutboundEmailFilter

    def get_tenant_queryset(self):
        return selectors.outbound_emails_for_list(tenant=self.tenant)
