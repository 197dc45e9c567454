from django.urls import path
from rest_framework.routers import DefaultRouter

from crm.api.views import ApiTokenViewSet, MeView, StaffViewSet

router = DefaultRouter(trailing_slash=True)
router.register("tokens", ApiTokenViewSet, basename="apitoken")
router.register("staff", StaffViewSet, basename="staff")

urlpatterns = [path("me/", MeView.as_view(), name="api-me"), *router.urls]
