"""REST routes of this app, mounted under /api/v1/ by crm/urls.py. Flat: /things/ and /things/{pk}/action/."""

from rest_framework.routers import SimpleRouter

from referrals import api

router = SimpleRouter(trailing_slash=True)
# "referrals/ledger" before "referrals" so /referrals/ledger/ is not read as a referral pk.
router.register("referrals/ledger", api.LedgerEntryViewSet, basename="referral-ledger")
router.register("referrals", api.ReferralViewSet, basename="referral")
router.register("referral-accounts", api.ReferralAccountViewSet, basename="referral-account")
router.register("referral-settings", api.ReferralSettingsViewSet, basename="referral-settings")

urlpatterns = router.urls
