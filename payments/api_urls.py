from django.urls import path
from rest_framework.routers import SimpleRouter

from payments.api import PaymentPlanViewSet, PaymentReceiptViewSet, PaymentTemplateView

router = SimpleRouter(trailing_slash=True)
router.register("payment-plans", PaymentPlanViewSet, basename="payment-plan")
router.register("payment-receipts", PaymentReceiptViewSet, basename="payment-receipt")

urlpatterns = [
    path("payment-template/", PaymentTemplateView.as_view(), name="payment-template"),
    *router.urls,
]
