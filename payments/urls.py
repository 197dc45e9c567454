from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("", views.PlanListView.as_view(), name="list"),
    path("template/", views.TemplateView.as_view(), name="template"),
    path("<int:pk>/", views.PlanDetailView.as_view(), name="detail"),
]
