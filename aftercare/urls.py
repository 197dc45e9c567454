"""Browser pages of this app, mounted by crm/urls.py under /aftercare/."""

from django.urls import path

from aftercare import views

app_name = "aftercare"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("plans/<int:pk>/", views.PlanDetailView.as_view(), name="plan-detail"),
    path("plans/<int:pk>/visits/", views.VisitBookView.as_view(), name="visit-book"),
    path("plans/<int:pk>/update/", views.PlanUpdateView.as_view(), name="plan-update"),
    path("visits/<int:pk>/complete/", views.VisitCompleteView.as_view(), name="visit-complete"),
    path("tickets/", views.TicketQueueView.as_view(), name="tickets"),
    path("tickets/<int:pk>/", views.TicketDetailView.as_view(), name="ticket-detail"),
    path("surveys/", views.SurveyResultsView.as_view(), name="surveys"),
    path("settings/", views.SettingsView.as_view(), name="settings"),
    path("s/<str:token>/", views.PublicSurveyView.as_view(), name="survey-public"),
    path("report/<str:token>/", views.CustomerReportView.as_view(), name="customer-report"),
]
