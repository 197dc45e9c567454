"""REST routes of this app, mounted under /api/v1/ by crm/urls.py (flat: children filter by ?plan=)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from aftercare import api, api_settings

router = SimpleRouter(trailing_slash=True)
router.register("aftercare/plans", api.PlanViewSet, basename="aftercare-plan")
router.register("aftercare/visits", api.VisitViewSet, basename="aftercare-visit")
router.register("aftercare/tickets", api.TicketViewSet, basename="aftercare-ticket")
router.register("surveys", api.SurveyViewSet, basename="survey")

urlpatterns = [
    path("surveys/answer/<str:token>/", api.SurveyAnswerView.as_view(), name="survey-answer"),
    path("aftercare-settings/", api_settings.AftercareSettingsView.as_view(), name="aftercare-settings"),
    path("aftercare-plan-kinds/", api_settings.PlanKindsView.as_view(), name="aftercare-plan-kinds"),
    *router.urls,
]
