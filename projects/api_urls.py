"""REST routes of this app, mounted under /api/v1/ by crm/urls.py (flat; children filtered by ?project=)."""

from rest_framework.routers import SimpleRouter

from projects import api

router = SimpleRouter(trailing_slash=True)
router.register("projects", api.ProjectViewSet, basename="project")
router.register("project-stages", api.StageHistoryViewSet, basename="project-stage")
router.register("design-plans", api.DesignPlanViewSet, basename="design-plan")
router.register("daily-logs", api.DailyLogViewSet, basename="daily-log")
router.register("inspections", api.InspectionViewSet, basename="inspection")
router.register("rectifications", api.RectificationViewSet, basename="rectification")
router.register("change-orders", api.ChangeOrderViewSet, basename="change-order")
router.register("materials", api.MaterialViewSet, basename="material")
router.register("project-callbacks", api.CallbackViewSet, basename="project-callback")
router.register("share-links", api.ShareLinkViewSet, basename="share-link")

urlpatterns = router.urls
