from django.urls import path
from rest_framework.routers import SimpleRouter

from crm.notifications.api import (
    DeliveryViewSet,
    NotificationSettingsView,
    NotificationViewSet,
    OutboundEmailViewSet,
    SmsMessageViewSet,
)

router = SimpleRouter(trailing_slash=True)
router.register("notifications", NotificationViewSet, basename="notification")
router.register("notification-deliveries", DeliveryViewSet, basename="notification-delivery")
router.register("sms-messages", SmsMessageViewSet, basename="sms-message")
router.register("email-messages", OutboundEmailViewSet, basename="email-message")

urlpatterns = [
    path("notification-settings/", NotificationSettingsView.as_view(), name="notification-settings"),
    *router.urls,
]
