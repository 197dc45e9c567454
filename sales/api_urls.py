"""REST routes of sales, mounted under /api/v1/ by crm/urls.py."""

from rest_framework.routers import SimpleRouter

from sales import api

router = SimpleRouter(trailing_slash=True)
router.register("appointments", api.AppointmentViewSet, basename="appointment")
router.register("tasks", api.TaskViewSet, basename="task")

urlpatterns = router.urls
