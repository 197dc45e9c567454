"""Browser pages of this app, mounted by crm/urls.py."""

from django.urls import path

from projects.views import (
    callbacks,
    change_orders,
    designs,
    inspections,
    logs,
    materials,
    progress,
    projects,
    share,
    stages,
)

app_name = "projects"

urlpatterns = [
    path("", projects.ProjectListView.as_view(), name="list"),
    path("board/", projects.ProjectBoardView.as_view(), name="board"),
    path("new/", projects.ProjectCreateView.as_view(), name="create"),
    path("stage-settings/", stages.StageSettingsView.as_view(), name="stage-settings"),
    path("signing-settings/", stages.SigningSettingsView.as_view(), name="signing-settings"),
    path("<int:pk>/", projects.ProjectDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", projects.ProjectEditView.as_view(), name="edit"),
    path("<int:pk>/stage/", stages.StageMoveView.as_view(), name="move-stage"),
    path("<int:pk>/sign/", stages.SignView.as_view(), name="sign"),
    path("<int:pk>/handover/", stages.HandoverView.as_view(), name="handover"),
    path("<int:pk>/acceptance/", stages.AcceptanceView.as_view(), name="acceptance"),
    path("<int:pk>/plans/", designs.DesignPlanCreateView.as_view(), name="plan-create"),
    path("<int:pk>/plans/<int:plan_id>/revise/", designs.DesignPlanReviseView.as_view(), name="plan-revise"),
    path("<int:pk>/plans/<int:plan_id>/choose/", designs.DesignPlanChooseView.as_view(), name="plan-choose"),
    path("<int:pk>/logs/", logs.DailyLogCreateView.as_view(), name="log-create"),
    path("<int:pk>/inspections/", inspections.InspectionCreateView.as_view(), name="inspection-create"),
    path(
        "<int:pk>/rectifications/<int:rectification_id>/reinspect/",
        inspections.ReinspectView.as_view(),
        name="reinspect",
    ),
    path(
        "<int:pk>/change-orders/", change_orders.ChangeOrderCreateView.as_view(), name="change-order-create"
    ),
    path(
        "<int:pk>/change-orders/<int:change_order_id>/send/",
        change_orders.ChangeOrderSendView.as_view(),
        name="change-order-send",
    ),
    path(
        "<int:pk>/change-orders/<int:change_order_id>/decide/",
        change_orders.ChangeOrderDecideView.as_view(),
        name="change-order-decide",
    ),
    path("<int:pk>/materials/", materials.MaterialCreateView.as_view(), name="material-create"),
    path(
        "<int:pk>/materials/<int:material_id>/reports/",
        materials.MaterialReportView.as_view(),
        name="material-report",
    ),
    path(
        "<int:pk>/callbacks/<int:callback_id>/",
        callbacks.CallbackCompleteView.as_view(),
        name="callback-complete",
    ),
    path("<int:pk>/share/", share.ShareLinkCreateView.as_view(), name="share-create"),
    path("<int:pk>/share/<int:link_id>/revoke/", share.ShareLinkRevokeView.as_view(), name="share-revoke"),
    path("progress/<str:token>/", progress.ProgressView.as_view(), name="progress"),
    path(
        "progress/<str:token>/change-orders/<int:change_order_id>/<str:step>/",
        progress.ProgressChangeOrderView.as_view(),
        name="progress-change-order",
    ),
]
