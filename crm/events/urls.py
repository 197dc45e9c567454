from django.urls import path

from crm.events import views

urlpatterns = [
    path("", views.DeliveryLogView.as_view(), name="events-deliveries"),
    path("retry/", views.DeliveryRetryView.as_view(), name="events-retry"),
]
