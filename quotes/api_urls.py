"""REST routes of quotes, mounted under /api/v1/ by crm/urls.py."""

from rest_framework.routers import SimpleRouter

from quotes import api

router = SimpleRouter(trailing_slash=True)
router.register("quote-items", api.CatalogueItemViewSet, basename="quote-item")
router.register("quote-packages", api.PackageViewSet, basename="quote-package")
router.register("quotations", api.QuotationViewSet, basename="quotation")
router.register("quote-settings", api.QuoteSettingsViewSet, basename="quote-settings")

urlpatterns = router.urls
