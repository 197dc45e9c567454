"""REST routes of integrations, mounted under /api/v1/ by crm/urls.py."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from integrations import api

router = SimpleRouter(trailing_slash=True)
router.register("webhooks", api.WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    path("robot-event-routes/", api.RobotEventRouteView.as_view(), name="robot-event-routes"),
    *router.urls,
]
