"""REST routes of this app, mounted under /api/v1/ by crm/urls.py (flat: children filter by ?plan=)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from aftercare import api

router = SimpleRouter(trailing_slash=True)
router.register("aftercare/plans", api.PlanViewSet, basename="aftercare-plan")
router.register("aftercare/visits", api.VisitViewSet, basename="aftercare-visit")
router.register("aftercare/tickets", api.TicketViewSet, basename="aftercare-ticket")
router.register("surveys", api.SurveyViewSet, basename="survey")

urlpatterns = [
    path("surveys/answer/<str:token>/", api.SurveyAnswerView.as_view(), name="survey-answer"),
    *router.urls,
]
