"""REST routes of engagement, mounted under /api/v1/ by crm/urls.py."""

from rest_framework.routers import SimpleRouter

from engagement import api

router = SimpleRouter(trailing_slash=True)
router.register("consents", api.ConsentViewSet, basename="consent")
router.register("campaigns", api.CampaignViewSet, basename="campaign")
router.register("offers", api.OfferViewSet, basename="offer")
router.register("content", api.ContentItemViewSet, basename="content-item")
router.register("push-rules", api.PushRuleViewSet, basename="push-rule")
router.register("lead-scores", api.LeadScoreViewSet, basename="lead-score")

urlpatterns = router.urls
