"""Browser pages of engagement, mounted by crm/urls.py under /engagement/."""

from django.urls import path

from engagement import views

app_name = "engagement"

urlpatterns = [
    path("customers/<int:customer_id>/consent/", views.ConsentRecordView.as_view(), name="consent-record"),
    path("u/<str:token>/", views.OptOutView.as_view(), name="opt-out"),
]
