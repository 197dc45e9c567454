"""REST routes of engagement, mounted under /api/v1/ by crm/urls.py."""

from rest_framework.routers import SimpleRouter

from engagement import api

router = SimpleRouter(trailing_slash=True)
router.register("consents", api.ConsentViewSet, basename="consent")

urlpatterns = router.urls
