"""Offers redeemed against a quotation: every refusal, the discount in the quotation total (fen,
computed by hand), approval rules, package offers, the contract link and campaign figures counting
a contract once, the API and the pages."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from crm.models import Role
from crm.tenancy import tenant_context
from engagement.models import Campaign, CampaignSignup, Offer, Redemption
from engagement.selectors import campaign_figures
from engagement.services.campaigns import offer_redeem
from projects.services import contracts as project_contracts
from quotes.models import DiscountApproval, Quotation, QuotationStatus
from quotes.services import quotations as quote_services
from tests.customers.factories import CustomerFactory
from tests.projects.factories import ProjectFactory
from tests.quotes.factories import make_package, make_quotation

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
# One line 3 × ¥12,345.00: subtotal 3,703,500 fen; the default approval line (5%) is 185,175 fen.
LINES = [("全屋人工", 1_234_500, Decimal("3"))]
SUBTOTAL = 3_703_500


def _campaign(tenant, spend_fen: int = 1_000_000) -> Campaign:
    return Campaign.objects.create(
        tenant=tenant,
        name="秋季家博会",
        channel="home_expo",
        starts_on=TODAY - datetime.timedelta(days=10),
        ends_on=TODAY + datetime.timedelta(days=10),
        spend_fen=spend_fen,
    )


def _offer(tenant, campaign=None, **extra) -> Offer:
    values = {
        "name": "家电代金券",
        "kind": "voucher",
        "value_fen": 200_000,
        "valid_from": TODAY - datetime.timedelta(days=1),
        "valid_until": TODAY + datetime.timedelta(days=30),
    }
    values.update(extra)
    return Offer.objects.create(tenant=tenant, campaign=campaign, **values)


def _signed_up(tenant, campaign, customer) -> CampaignSignup:
    return CampaignSignup.objects.create(
        tenant=tenant,
        campaign=campaign,
        customer=customer,
        signed_up_at=timezone.now() - datetime.timedelta(days=3),
    )


def _redeem_error(**kwargs) -> tuple[str, str]:
    with pytest.raises(ValidationError) as error:
        offer_redeem(**kwargs)
    field, errors = next(iter(error.value.error_dict.items()))
    return field, errors[0].code


def test_voucher_against_quotation_is_in_the_total_without_approval(tenant_a, manager_a):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        quotation = make_quotation(tenant_a, customer=customer, lines=LINES)
        offer = _offer(tenant_a, _campaign(tenant_a))
        redemption = offer_redeem(
            tenant=tenant_a, offer=offer, customer=customer, quotation=quotation, redeemed_by=manager_a
        )
        quotation.refresh_from_db()
        # ¥2,000 voucher: 3,703,500 - 200,000 = 3,503,500 fen. 200,000 is above the 5% line
        # (185,175) but the campaign approved it: no manager approval needed.
        assert (quotation.subtotal_fen, quotation.discount_fen, quotation.total_fen) == (
            SUBTOTAL,
            200_000,
            3_503_500,
        )
        assert quotation.offer_discount_fen == 200_000
        assert quotation.discount_approval == DiscountApproval.NOT_NEEDED
        assert redemption.quotation_id == quotation.pk and redemption.project_id is None
        assert redemption.applied_discount_fen == 200_000
        # A line added later keeps the offer discount: + 1 × ¥100.00 = 3,713,500 - 200,000.
        quote_services.quotation_add_line(
            tenant=tenant_a,
            actor=manager_a,
            quotation=quotation,
            line={"kind": "free", "name": "垃圾清运", "unit": "项", "unit_price_fen": 10_000, "quantity": 1},
        )
        quotation.refresh_from_db()
        assert (quotation.discount_fen, quotation.total_fen) == (200_000, 3_513_500)


def test_staff_discount_on_top_of_an_offer_is_judged_on_the_whole_concession(tenant_a, manager_a, make_staff):
    sales = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        quotation = make_quotation(tenant_a, customer=customer, lines=LINES)
        offer = _offer(tenant_a, _campaign(tenant_a), value_fen=100_000)
        offer_redeem(tenant=tenant_a, offer=offer, customer=customer, quotation=quotation, redeemed_by=sales)
        # 80,000 alone is under the line (185,175), but 80,000 + 100,000 = 180,000 is too: no approval.
        quote_services.quotation_set_discount(
            tenant=tenant_a, actor=sales, quotation=quotation, kind="amount", amount_fen=80_000
        )
        quotation.refresh_from_db()
        assert quotation.discount_fen == 180_000 and quotation.total_fen == SUBTOTAL - 180_000
        assert quotation.discount_approval == DiscountApproval.NOT_NEEDED
        # 90,000 + 100,000 = 190,000 > 185,175: the manager must approve, offer included.
        quote_services.quotation_set_discount(
            tenant=tenant_a, actor=sales, quotation=quotation, kind="amount", amount_fen=90_000
        )
        quotation.refresh_from_db()
        assert quotation.discount_fen == 190_000 and quotation.total_fen == 3_513_500
        assert quotation.discount_approval == DiscountApproval.PENDING
        # Removing the staff discount leaves the offer, which needs no approval.
        quote_services.quotation_set_discount(tenant=tenant_a, actor=sales, quotation=quotation, kind="none")
        quotation.refresh_from_db()
        assert (
            quotation.discount_fen == 100_000 and quotation.discount_approval == DiscountApproval.NOT_NEEDED
        )


def test_package_offer_adds_its_package_line(tenant_a, manager_a):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        package = make_package(tenant_a, price_per_sqm_fen=50_000)
        quotation = make_quotation(tenant_a, customer=customer, lines=LINES, area_sqm=Decimal("12.50"))
        offer = _offer(tenant_a, _campaign(tenant_a), kind="package", value_fen=0, package=package)
        offer_redeem(
            tenant=tenant_a, offer=offer, customer=customer, quotation=quotation, redeemed_by=manager_a
        )
        quotation.refresh_from_db()
        package_line = quotation.lines.get(package=package)
        # 12.5 ㎡ × ¥500.00 = 625,000 fen.
        assert package_line.amount_fen == 625_000
        assert quotation.total_fen == SUBTOTAL + 625_000 and quotation.discount_fen == 0


def test_every_refusal_has_its_code_and_writes_nothing(tenant_a, tenant_b, manager_a, make_staff):
    with tenant_context(tenant_b):
        foreign_offer = _offer(tenant_b, _campaign(tenant_b))
    with tenant_context(tenant_a):
        campaign = _campaign(tenant_a)
        customer, other = CustomerFactory(tenant=tenant_a), CustomerFactory(tenant=tenant_a)
        quotation = make_quotation(tenant_a, customer=customer, lines=LINES)
        project = ProjectFactory(tenant=tenant_a, customer=customer)
        base = {"tenant": tenant_a, "customer": customer, "redeemed_by": manager_a}
        expired = _offer(tenant_a, campaign, valid_from=TODAY - datetime.timedelta(days=9), valid_until=TODAY)
        assert _redeem_error(
            offer=expired, quotation=quotation, today=TODAY + datetime.timedelta(days=1), **base
        ) == ("offer", "offer_expired")
        future = _offer(tenant_a, campaign, valid_from=TODAY + datetime.timedelta(days=1))
        assert _redeem_error(offer=future, quotation=quotation, **base) == ("offer", "offer_not_yet_valid")
        offer = _offer(tenant_a, campaign)
        assert _redeem_error(offer=offer, quotation=quotation, project=project, **base) == (
            "quotation",
            "one_target",
        )
        others_quotation = make_quotation(tenant_a, customer=other, lines=LINES)
        assert _redeem_error(offer=offer, quotation=others_quotation, **base) == (
            "quotation",
            "customer_mismatch",
        )
        others_project = ProjectFactory(tenant=tenant_a, customer=other)
        assert _redeem_error(offer=offer, project=others_project, **base) == ("project", "customer_mismatch")
        accepted = make_quotation(tenant_a, customer=customer, lines=LINES, status=QuotationStatus.ACCEPTED)
        assert _redeem_error(offer=offer, quotation=accepted, **base) == ("quotation", "quotation_accepted")
        rejected = make_quotation(tenant_a, customer=customer, lines=LINES, status=QuotationStatus.REJECTED)
        assert _redeem_error(offer=offer, quotation=rejected, **base) == ("quotation", "quotation_void")
        sent = make_quotation(tenant_a, customer=customer, lines=LINES, status=QuotationStatus.SENT)
        assert _redeem_error(offer=offer, quotation=sent, **base) == ("quotation", "quotation_not_editable")
        revision = quote_services.quotation_revise(tenant=tenant_a, actor=manager_a, quotation=sent)
        sent.refresh_from_db()
        assert _redeem_error(offer=offer, quotation=sent, **base) == (
            "quotation",
            "quotation_void",
        )  # superseded
        assert _redeem_error(offer=foreign_offer, quotation=quotation, **base) == ("offer", "not_found")
        # Too big for the quotation: the discounts together may not pass the subtotal.
        huge = _offer(tenant_a, campaign, value_fen=SUBTOTAL + 1)
        assert _redeem_error(offer=huge, quotation=quotation, **base) == (
            "discount",
            "discount_exceeds_total",
        )
        assert Redemption.objects.count() == 0
        quotation.refresh_from_db()
        assert quotation.discount_fen == 0 and quotation.total_fen == SUBTOTAL
        # The current version (the revision, a draft) takes it; then once per customer.
        offer_redeem(offer=offer, quotation=revision, **base)
        assert _redeem_error(offer=offer, quotation=quotation, **base) == ("offer", "already_redeemed")
        last = _offer(tenant_a, campaign, quantity=1)
        offer_redeem(offer=last, quotation=revision, **base)
        assert _redeem_error(offer=last, tenant=tenant_a, customer=other, redeemed_by=manager_a) == (
            "offer",
            "offer_exhausted",
        )
        assert Redemption.objects.count() == 2


def test_accepted_quotation_counts_once_in_campaign_figures(
    tenant_a, manager_a, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_a):
        campaign = _campaign(tenant_a, spend_fen=1_000_000)
        customer = CustomerFactory(tenant=tenant_a)
        _signed_up(tenant_a, campaign, customer)  # counted through the sign-up too: still once
        project = ProjectFactory(tenant=tenant_a, customer=customer)
        quotation = make_quotation(tenant_a, customer=customer, project=project, lines=LINES)
        offer = _offer(tenant_a, campaign)
        offer_redeem(
            tenant=tenant_a, offer=offer, customer=customer, quotation=quotation, redeemed_by=manager_a
        )
        # Also a customer who never signed up but redeemed the offer against her contract directly.
        walk_in = CustomerFactory(tenant=tenant_a)
        walk_in_project = ProjectFactory(tenant=tenant_a, customer=walk_in)
        before = campaign_figures(tenant=tenant_a, campaign_ids=[campaign.pk])[campaign.pk]
        assert before["signed"] == 0 and before["contract_value_fen"] == 0
        quotation = quote_services.quotation_send(tenant=tenant_a, actor=manager_a, quotation=quotation)
        quote_services.quotation_decide(
            tenant=tenant_a, quotation=quotation, accept=True, channel="staff", decided_by=manager_a
        )
        with django_capture_on_commit_callbacks(execute=True):
            project_contracts.contract_sign(
                tenant=tenant_a,
                project=project,
                signed_by=manager_a,
                contract_number="HT-OFFER-1",
                signed_on=TODAY,
            )
        redemption = Redemption.objects.get(offer=offer, customer=customer)
        assert redemption.project_id == project.pk  # linked by the contract_signed handler
        figures = campaign_figures(tenant=tenant_a, campaign_ids=[campaign.pk])[campaign.pk]
        assert figures["signed"] == 1
        assert figures["contract_value_fen"] == 3_503_500  # the accepted total, counted once
        assert figures["roi"] == round((3_503_500 - 1_000_000) / 1_000_000, 4)
        walk_in_offer = _offer(tenant_a, campaign, name="老客户翻新券", value_fen=50_000)
        with django_capture_on_commit_callbacks(execute=True):
            project_contracts.contract_sign(
                tenant=tenant_a,
                project=walk_in_project,
                signed_by=manager_a,
                contract_number="HT-OFFER-2",
                contract_amount_fen=2_000_000,
                signed_on=TODAY,
                override_reason="测试：无报价",
            )
        offer_redeem(
            tenant=tenant_a,
            offer=walk_in_offer,
            customer=walk_in,
            project=walk_in_project,
            redeemed_by=manager_a,
        )
        figures = campaign_figures(tenant=tenant_a, campaign_ids=[campaign.pk])[campaign.pk]
        assert figures["signed"] == 2 and figures["contract_value_fen"] == 3_503_500 + 2_000_000
        assert figures["cost_per_signed_fen"] == 500_000


def test_redeem_api_with_quotation_and_redemption_list(tenant_a, tenant_b, manager_a, admin_b, token_client):
    api = token_client(manager_a)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        quotation = make_quotation(tenant_a, customer=customer, lines=LINES)
        offer = _offer(tenant_a, _campaign(tenant_a))
        project = ProjectFactory(tenant=tenant_a, customer=customer)
    url = f"/api/v1/offers/{offer.pk}/redeem/"
    both = api.post(
        url, {"customer": customer.pk, "quotation": quotation.pk, "project": project.pk}, format="json"
    )
    assert both.status_code == 400 and both.json()["codes"]["quotation"] == ["one_target"]
    ok = api.post(url, {"customer": customer.pk, "quotation": quotation.pk}, format="json")
    assert ok.status_code == 201, ok.json()
    body = ok.json()
    assert (
        body["quotation"] == quotation.pk
        and body["project"] is None
        and body["applied_discount_fen"] == 200_000
    )
    with tenant_context(tenant_a):
        assert Quotation.objects.get(pk=quotation.pk).total_fen == SUBTOTAL - 200_000
    listed = api.get(f"/api/v1/offers/{offer.pk}/redemptions/")
    assert listed.status_code == 200 and [row["quotation"] for row in listed.json()] == [quotation.pk]
    # Tenant B: neither the offer nor tenant A's quotation exist for it.
    api_b = token_client(admin_b)
    assert (
        api_b.post(url, {"customer": customer.pk, "quotation": quotation.pk}, format="json").status_code
        == 404
    )
    assert api_b.get(f"/api/v1/offers/{offer.pk}/redemptions/").status_code == 404
    with tenant_context(tenant_b):
        offer_b = _offer(tenant_b, _campaign(tenant_b))
        customer_b = CustomerFactory(tenant=tenant_b)
    probe = api_b.post(
        f"/api/v1/offers/{offer_b.pk}/redeem/",
        {"customer": customer_b.pk, "quotation": quotation.pk},
        format="json",
    )
    assert probe.status_code == 400 and "quotation" in probe.json()["errors"]


def test_quotation_page_redeems_a_signed_up_offer_and_offer_page_lists_it(tenant_a, manager_a, client):
    with tenant_context(tenant_a):
        campaign = _campaign(tenant_a)
        customer = CustomerFactory(tenant=tenant_a)
        _signed_up(tenant_a, campaign, customer)
        quotation = make_quotation(tenant_a, customer=customer, lines=LINES)
        offer = _offer(tenant_a, campaign)
        _offer(tenant_a, _campaign(tenant_a), name="别的活动的券")  # not signed up: not offered
    client.force_login(manager_a)
    page = client.get(reverse("quotes:detail", args=[quotation.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and offer.name in html and "别的活动的券" not in html
    response = client.post(reverse("engagement:quotation-redeem", args=[quotation.pk]), {"offer": offer.pk})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert Quotation.objects.get(pk=quotation.pk).total_fen == SUBTOTAL - 200_000
    detail = client.get(reverse("quotes:detail", args=[quotation.pk])).content.decode()
    assert 'id="quotation-offer-discount"' in detail and 'id="quotation-redemptions"' in detail
    offer_page = client.get(reverse("engagement:offer-detail", args=[offer.pk]))
    assert offer_page.status_code == 200 and f"{quotation.number} v1" in offer_page.content.decode()
    again = client.post(
        reverse("engagement:quotation-redeem", args=[quotation.pk]), {"offer": offer.pk}, follow=True
    )
    assert "已核销过" in again.content.decode()
    with tenant_context(tenant_a):
        assert Redemption.objects.count() == 1
