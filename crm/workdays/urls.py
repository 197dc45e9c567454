from django.urls import path

from crm.workdays import views

app_name = "workdays"

urlpatterns = [path("", views.CalendarView.as_view(), name="calendar")]
