"""Browser pages of this app, mounted by crm/urls.py."""

from django.urls import path

from projects import views

app_name = "projects"

urlpatterns = [
    path("", views.ProjectListView.as_view(), name="list"),
    path("board/", views.ProjectBoardView.as_view(), name="board"),
    path("new/", views.ProjectCreateView.as_view(), name="create"),
    path("stage-settings/", views.StageSettingsView.as_view(), name="stage-settings"),
    path("<int:pk>/", views.ProjectDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.ProjectEditView.as_view(), name="edit"),
    path("<int:pk>/stage/", views.StageMoveView.as_view(), name="move-stage"),
    path("<int:pk>/sign/", views.SignView.as_view(), name="sign"),
    path("<int:pk>/handover/", views.HandoverView.as_view(), name="handover"),
    path("<int:pk>/acceptance/", views.AcceptanceView.as_view(), name="acceptance"),
    path("<int:pk>/plans/", views.DesignPlanCreateView.as_view(), name="plan-create"),
    path("<int:pk>/plans/<int:plan_id>/revise/", views.DesignPlanReviseView.as_view(), name="plan-revise"),
    path("<int:pk>/plans/<int:plan_id>/choose/", views.DesignPlanChooseView.as_view(), name="plan-choose"),
    path("<int:pk>/logs/", views.DailyLogCreateView.as_view(), name="log-create"),
    path("<int:pk>/inspections/", views.InspectionCreateView.as_view(), name="inspection-create"),
    path(
        "<int:pk>/rectifications/<int:rectification_id>/reinspect/",
        views.ReinspectView.as_view(),
        name="reinspect",
    ),
    path("<int:pk>/change-orders/", views.ChangeOrderCreateView.as_view(), name="change-order-create"),
    path(
        "<int:pk>/change-orders/<int:change_order_id>/send/",
        views.ChangeOrderSendView.as_view(),
        name="change-order-send",
    ),
    path(
        "<int:pk>/change-orders/<int:change_order_id>/decide/",
        views.ChangeOrderDecideView.as_view(),
        name="change-order-decide",
    ),
    path("<int:pk>/materials/", views.MaterialCreateView.as_view(), name="material-create"),
    path(
        "<int:pk>/materials/<int:material_id>/reports/",
        views.MaterialReportView.as_view(),
        name="material-report",
    ),
    path(
        "<int:pk>/callbacks/<int:callback_id>/",
        views.CallbackCompleteView.as_view(),
        name="callback-complete",
    ),
    path("<int:pk>/share/", views.ShareLinkCreateView.as_view(), name="share-create"),
    path("<int:pk>/share/<int:link_id>/revoke/", views.ShareLinkRevokeView.as_view(), name="share-revoke"),
    path("progress/<str:token>/", views.ProgressView.as_view(), name="progress"),
    path(
        "progress/<str:token>/change-orders/<int:change_order_id>/<str:step>/",
        views.ProgressChangeOrderView.as_view(),
        name="progress-change-order",
    ),
]
