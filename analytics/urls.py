"""Browser pages of this app, mounted at /dashboard/ by crm/urls.py."""

from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("reports/<int:pk>/", views.MonthlyReportDownloadView.as_view(), name="report"),
    path("leads/", views.SlaLeadListView.as_view(), name="leads"),
    path("targets/", views.MonthlyPlanView.as_view(), name="targets"),
    path("export/<slug:panel>.xlsx", views.PanelExportView.as_view(), name="export"),
]
