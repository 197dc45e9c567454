"""Browser pages of sales, mounted by crm/urls.py under /sales/."""

from django.urls import path

from sales import views

app_name = "sales"

urlpatterns = [
    path("calendar/", views.CalendarView.as_view(), name="calendar"),
    path("appointments/new/", views.AppointmentCreateView.as_view(), name="appointment-create"),
    path("appointments/<int:pk>/", views.AppointmentDetailView.as_view(), name="appointment"),
    path(
        "appointments/<int:pk>/reschedule/",
        views.AppointmentRescheduleView.as_view(),
        name="appointment-reschedule",
    ),
    path("appointments/<int:pk>/close/", views.AppointmentCloseView.as_view(), name="appointment-close"),
    path("tasks/", views.TaskListView.as_view(), name="tasks"),
    path("tasks/new/", views.TaskCreateView.as_view(), name="task-create"),
    path("tasks/<int:pk>/complete/", views.TaskCompleteView.as_view(), name="task-complete"),
    path("tasks/<int:pk>/reassign/", views.TaskReassignView.as_view(), name="task-reassign"),
]
