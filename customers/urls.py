"""Browser pages of this app, mounted by crm/urls.py."""

from django.urls import path

from customers import views, views_merge

app_name = "customers"

urlpatterns = [
    path("", views.CustomerListView.as_view(), name="list"),
    path("new/", views.CustomerCreateView.as_view(), name="create"),
    path("export/", views.CustomerExportView.as_view(), name="export"),
    path("import/", views.CustomerImportView.as_view(), name="import"),
    path("segments/save/", views.SegmentSaveView.as_view(), name="segment-save"),
    path("leads/", views.LeadInboxView.as_view(), name="lead-inbox"),
    path("settings/", views.CustomerSettingsView.as_view(), name="settings"),
    path("audit-log/", views.AuditLogView.as_view(), name="audit-log"),
    path("merge/", views_merge.MergeView.as_view(), name="merge"),
    path("merges/<int:pk>/", views_merge.MergeDetailView.as_view(), name="merge-detail"),
    path("merges/<int:pk>/undo/", views_merge.MergeUndoView.as_view(), name="merge-undo"),
    path("reassign/", views_merge.ReassignView.as_view(), name="reassign"),
    path("<int:pk>/", views.CustomerDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.CustomerEditView.as_view(), name="edit"),
    path("<int:pk>/follow-ups/", views.FollowUpCreateView.as_view(), name="follow-up-create"),
    path("<int:pk>/reveal-phone/", views.RevealPhoneView.as_view(), name="reveal-phone"),
    path("<int:pk>/claim/", views.ClaimView.as_view(), name="claim"),
    path("<int:pk>/anonymise/", views.AnonymiseView.as_view(), name="anonymise"),
    path("<int:pk>/personal-data/", views.PersonalDataExportView.as_view(), name="personal-data"),
]
