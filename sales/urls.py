"""Browser pages of sales, mounted by crm/urls.py under /sales/."""

from django.urls import path

from sales import views

app_name = "sales"

urlpatterns = [
    path("calendar/", views.CalendarView.as_view(), name="calendar"),
]
