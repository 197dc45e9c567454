"""Browser pages of this app, mounted by crm/urls.py under /referrals/."""

from django.urls import path

from referrals import views

app_name = "referrals"

urlpatterns = [
    path("", views.ReferralHomeView.as_view(), name="home"),
    path("settings/", views.ReferralSettingsView.as_view(), name="settings"),
    path("accounts/<int:pk>/", views.AccountDetailView.as_view(), name="account"),
    path("accounts/<int:pk>/redeem/", views.RedeemView.as_view(), name="redeem"),
    path("accounts/<int:pk>/adjust/", views.AdjustView.as_view(), name="adjust"),
    path("accounts/<int:pk>/vip/", views.VipDecisionView.as_view(), name="vip-decision"),
    path("customers/<int:customer_id>/", views.CustomerAccountView.as_view(), name="customer-account"),
    path("customers/<int:customer_id>/link/", views.LinkReferrerView.as_view(), name="link-referrer"),
    path("<int:pk>/status/", views.ReferralStatusView.as_view(), name="status"),
    path("join/<slug:tenant_slug>/<str:code>/", views.JoinView.as_view(), name="join"),
]
