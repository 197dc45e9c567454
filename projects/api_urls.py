"""REST routes of this app, mounted under /api/v1/ by crm/urls.py (flat; children filtered by ?project=)."""

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
    stages,
)

router = SimpleRouter(trailing_slash=True)
router.register("projects", projects.ProjectViewSet, basename="project")
router.register("project-stages", stages.StageHistoryViewSet, basename="project-stage")
router.register("signing-policy", stages.SigningPolicyViewSet, basename="signing-policy")
router.register("design-plans", designs.DesignPlanViewSet, basename="design-plan")
router.register("daily-logs", logs.DailyLogViewSet, basename="daily-log")
router.register("inspections", inspections.InspectionViewSet, basename="inspection")
router.register("rectifications", inspections.RectificationViewSet, basename="rectification")
router.register("change-orders", change_orders.ChangeOrderViewSet, basename="change-order")
router.register("materials", materials.MaterialViewSet, basename="material")
router.register("project-callbacks", callbacks.CallbackViewSet, basename="project-callback")
router.register("share-links", share.ShareLinkViewSet, basename="share-link")

urlpatterns = router.urls
