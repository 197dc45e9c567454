from django.urls import path
from rest_framework.routers import SimpleRouter

from crm.api.root import ApiRootView
from crm.api.views import ApiTokenViewSet, MeView, StaffViewSet

router = SimpleRouter(trailing_slash=True)
router.register("tokens", ApiTokenViewSet, basename="apitoken")
router.register("staff", StaffViewSet, basename="staff")

urlpatterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("me/", MeView.as_view(), name="api-me"),
    *router.urls,
]
