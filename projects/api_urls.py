"""REST routes of this app, mounted under /api/v1/ by crm/urls.py (flat; children filtered by ?project=)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from projects.api import (
    callbacks,
    change_orders,
    designs,
    inspections,
    logs,
    materials,
    projects,
    share,
    stage_settings,
    stages,
)

router = SimpleRouter(trailing_slash=True)
router.register("projects", projects.ProjectViewSet, basename="project")
router.register("project-stage-history", stages.StageHistoryViewSet, basename="project-stage-history")
# Deprecated alias (the old name said "stages" but served the history): crm/api/deprecation.py
router.register("project-stages", stages.DeprecatedStageHistoryViewSet, basename="project-stage")
router.register("signing-policy", stages.SigningPolicyViewSet, basename="signing-policy")
router.register("design-plans", designs.DesignPlanViewSet, basename="design-plan")
router.register("daily-logs", logs.DailyLogViewSet, basename="daily-log")
router.register("inspections", inspections.InspectionViewSet, basename="inspection")
router.register("rectifications", inspections.RectificationViewSet, basename="rectification")
router.register("change-orders", change_orders.ChangeOrderViewSet, basename="change-order")
router.register("materials", materials.MaterialViewSet, basename="material")
router.register("project-callbacks", callbacks.CallbackViewSet, basename="project-callback")
router.register("share-links", share.ShareLinkViewSet, basename="share-link")

urlpatterns = [
    path("stage-settings/", stage_settings.StageSettingsView.as_view(), name="stage-settings"),
    *router.urls,
]
