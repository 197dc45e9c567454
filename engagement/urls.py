"""Browser pages of engagement, mounted by crm/urls.py under /engagement/."""

from django.urls import path

from engagement import views

app_name = "engagement"

urlpatterns = [
    path("", views.CampaignListView.as_view(), name="home"),
    path("campaigns/<int:pk>/", views.CampaignDetailView.as_view(), name="campaign-detail"),
    path("campaigns/<int:pk>/offers/", views.OfferCreateView.as_view(), name="offer-create"),
    path("offers/<int:pk>/", views.OfferDetailView.as_view(), name="offer-detail"),
    path("quotations/<int:pk>/redeem/", views.QuotationRedeemView.as_view(), name="quotation-redeem"),
    path("signups/<int:pk>/check-in/", views.SignupCheckInView.as_view(), name="signup-check-in"),
    path("signups/<int:pk>/redeem/", views.SignupRedeemView.as_view(), name="signup-redeem"),
    path("c/<str:token>/", views.PublicSignupView.as_view(), name="signup"),
    path("customers/<int:customer_id>/consent/", views.ConsentRecordView.as_view(), name="consent-record"),
    path("scoring/", views.LeadScoringView.as_view(), name="scoring"),
    path("scoring/train/", views.LeadScoringTrainView.as_view(), name="scoring-train"),
    path("u/<str:token>/", views.OptOutView.as_view(), name="opt-out"),
    path("content/", views.ContentListView.as_view(), name="content"),
    path("push-rules/", views.PushRuleListView.as_view(), name="push-rules"),
    path("push-rules/<int:pk>/", views.PushRuleDetailView.as_view(), name="push-rule-detail"),
    path("push-rules/<int:pk>/run/", views.PushRuleRunView.as_view(), name="push-rule-run"),
    path("t/<str:token>/", views.TrackView.as_view(), name="track"),
    path("t/<str:token>/go/", views.TrackClickView.as_view(), name="track-click"),
]
