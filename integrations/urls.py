from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("webhooks/", views.WebhookListView.as_view(), name="webhook-list"),
    path("webhooks/new/", views.WebhookCreateView.as_view(), name="webhook-create"),
    path("webhooks/<int:pk>/", views.WebhookDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<int:pk>/rotate-secret/", views.WebhookRotateSecretView.as_view(), name="webhook-rotate"),
    path("webhooks/<int:pk>/delete/", views.WebhookDeleteView.as_view(), name="webhook-delete"),
    path("webhooks/<int:pk>/resend/", views.WebhookResendView.as_view(), name="webhook-resend"),
    path("robot/", views.RobotEventRouteView.as_view(), name="robot-events"),
]
