from django.urls import path

from crm.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.InboxView.as_view(), name="inbox"),
    path("<int:pk>/read/", views.MarkReadView.as_view(), name="read"),
    path("read-all/", views.MarkAllReadView.as_view(), name="read-all"),
    path("demo-outbox/", views.DemoOutboxView.as_view(), name="demo-outbox"),
    path("settings/", views.SettingsView.as_view(), name="settings"),
    path("settings/test/", views.RobotTestView.as_view(), name="settings-test"),
]
