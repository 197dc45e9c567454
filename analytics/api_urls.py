"""REST routes of this app, mounted under /api/v1/ by crm/urls.py."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from analytics import api

router = SimpleRouter(trailing_slash=True)
router.register("targets", api.SalesTargetViewSet, basename="sales-target")

urlpatterns = [
    path("analytics/<slug:panel>/", api.AnalyticsPanelView.as_view(), name="analytics-panel"),
    *router.urls,
]
