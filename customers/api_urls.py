"""REST routes of this app, mounted under /api/v1/ by crm/urls.py."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from customers import api, api_merge, api_settings

router = SimpleRouter(trailing_slash=True)
router.register("customers", api.CustomerViewSet, basename="customer")
router.register("leads", api.LeadViewSet, basename="lead")
router.register("follow-ups", api.FollowUpViewSet, basename="follow-up")
router.register("segments", api.SegmentViewSet, basename="segment")
router.register("customer-merges", api_merge.CustomerMergeViewSet, basename="customer-merge")

urlpatterns = [
    path("intake/", api.IntakeView.as_view(), name="lead-intake"),
    path("customer-settings/", api_settings.CustomerSettingsView.as_view(), name="customer-settings"),
    *router.urls,
]
