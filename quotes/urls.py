"""Browser pages of quotes, mounted by crm/urls.py under /quotes/."""

from django.urls import path

from quotes import views

app_name = "quotes"

urlpatterns = [
    path("", views.QuotationListView.as_view(), name="list"),
    path("new/", views.QuotationCreateView.as_view(), name="new"),
    path("catalogue/", views.CatalogueView.as_view(), name="catalogue"),
    path("catalogue/export/", views.CatalogueExportView.as_view(), name="catalogue-export"),
    path("catalogue/items/<int:pk>/", views.CatalogueItemEditView.as_view(), name="item-edit"),
    path("catalogue/packages/new/", views.PackageEditView.as_view(), name="package-new"),
    path("catalogue/packages/<int:pk>/", views.PackageEditView.as_view(), name="package-edit"),
    path("<int:pk>/", views.QuotationDetailView.as_view(), name="detail"),
    path("<int:pk>/lines/add/", views.LineAddView.as_view(), name="line-add"),
    path("<int:pk>/lines/<int:line_id>/remove/", views.LineRemoveView.as_view(), name="line-remove"),
    path("<int:pk>/discount/", views.DiscountView.as_view(), name="discount"),
    path("<int:pk>/discount/<str:decision>/", views.DiscountDecideView.as_view(), name="discount-decide"),
    path("<int:pk>/send/", views.SendView.as_view(), name="send"),
    path("<int:pk>/revise/", views.ReviseView.as_view(), name="revise"),
    path("<int:pk>/decide/<str:decision>/", views.StaffDecideView.as_view(), name="decide"),
    path("<int:pk>/export/<str:kind>/", views.ExportView.as_view(), name="export"),
    path(
        "progress/<str:token>/<int:quotation_id>/<str:step>/",
        views.ProgressDecideView.as_view(),
        name="progress-decide",
    ),
]
