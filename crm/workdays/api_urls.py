from rest_framework.routers import SimpleRouter

from crm.workdays.api import CalendarDayViewSet

router = SimpleRouter(trailing_slash=True)
router.register("calendar-days", CalendarDayViewSet, basename="calendar-day")

urlpatterns = router.urls
