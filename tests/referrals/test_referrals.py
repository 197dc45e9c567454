"""Who referred whom: lead intake with a code, the public share link, manual links, bad input."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from crm.tenancy import tenant_context
from customers.models import Customer
from customers.services import leads as customer_leads
from referrals.models import Referral, ReferralAccount, ReferralSource, ReferralStatus
from referrals.services import accounts as accounts_services
from referrals.services import referrals
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_every_customer_gets_one_unique_code(tenant_a):
    with tenant_context(tenant_a):
        customers = CustomerFactory.create_batch(5, tenant=tenant_a)
        accounts = [accounts_services.referral_account_ensure(tenant=tenant_a, customer=c) for c in customers]
        again = accounts_services.referral_account_ensure(tenant=tenant_a, customer=customers[0])
        assert again.pk == accounts[0].pk and again.code == accounts[0].code
        codes = {a.code for a in accounts}
        assert len(codes) == 5 and all(len(code) == 8 for code in codes)
        assert ReferralAccount.objects.count() == 5


def test_lead_with_referral_code_records_who_referred_whom(tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        referrer = CustomerFactory(tenant=tenant_a)
        code = accounts_services.referral_account_ensure(tenant=tenant_a, customer=referrer).code
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a):
        lead = customer_leads.lead_create(
            tenant=tenant_a,
            name="吴敏",
            phone="13900001111",
            source_channel="referral",
            referral_code=code.lower(),
        )
    with tenant_context(tenant_a):
        referral = Referral.objects.get()
        assert (referral.referrer_id, referral.referred_id) == (referrer.pk, lead.customer_id)
        assert referral.source == ReferralSource.INTAKE and referral.status == ReferralStatus.REFERRED


def test_another_tenants_code_links_nothing(tenant_a, tenant_b, django_capture_on_commit_callbacks):
    with tenant_context(tenant_b):
        code_b = accounts_services.referral_account_ensure(
            tenant=tenant_b, customer=CustomerFactory(tenant=tenant_b)
        ).code
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a):
        customer_leads.lead_create(
            tenant=tenant_a,
            name="郑晓东",
            phone="13900002222",
            source_channel="referral",
            referral_code=code_b,
        )
    with tenant_context(tenant_a):
        assert Referral.objects.count() == 0
        referred = Customer.objects.get(phone="+8613900002222")
        with pytest.raises(ValidationError) as error:
            referrals.referral_link_by_code(
                tenant=tenant_a, referred=referred, code=code_b, created_by=_sales(tenant_a)
            )
        assert "code" in error.value.message_dict
        assert Referral.objects.count() == 0


def _sales(tenant):
    from tests.factories import StaffFactory

    return StaffFactory(tenant=tenant, roles=["sales"])


def test_self_referral_and_second_referrer_are_refused(tenant_a):
    with tenant_context(tenant_a):
        first, second, friend = CustomerFactory.create_batch(3, tenant=tenant_a)
        with pytest.raises(ValidationError) as error:
            referrals.referral_create(tenant=tenant_a, referrer=friend, referred=friend, source="manual")
        assert "自己" in error.value.message_dict["referred"][0]
        referrals.referral_create(tenant=tenant_a, referrer=first, referred=friend, source="manual")
        # the same pair again is a harmless no-op
        referrals.referral_create(tenant=tenant_a, referrer=first, referred=friend, source="intake")
        with pytest.raises(ValidationError) as error:
            referrals.referral_create(tenant=tenant_a, referrer=second, referred=friend, source="manual")
        assert "只能有一个推荐人" in error.value.message_dict["referred"][0]
        assert Referral.objects.count() == 1


def test_database_enforces_one_referrer_and_no_self_referral(tenant_a):
    from django.db import IntegrityError, transaction

    with tenant_context(tenant_a):
        a, b, c = CustomerFactory.create_batch(3, tenant=tenant_a)
        Referral.objects.create(tenant=tenant_a, referrer=a, referred=c, source="manual")
        with pytest.raises(IntegrityError), transaction.atomic():
            Referral.objects.create(tenant=tenant_a, referrer=b, referred=c, source="manual")
        with pytest.raises(IntegrityError), transaction.atomic():
            Referral.objects.create(tenant=tenant_a, referrer=b, referred=b, source="manual")


def test_staff_link_by_code_or_phone_and_status_changes(tenant_a, sales_a):
    with tenant_context(tenant_a):
        referrer = CustomerFactory(tenant=tenant_a, phone="+8613900003333")
        referred, other = CustomerFactory.create_batch(2, tenant=tenant_a)
        referral = referrals.referral_link_by_code(
            tenant=tenant_a, referred=referred, code="139 0000 3333", created_by=sales_a
        )
        assert referral.referrer_id == referrer.pk and referral.source == ReferralSource.MANUAL
        referral = referrals.referral_status_set(
            tenant=tenant_a, referral=referral, status="contacted", changed_by=sales_a
        )
        assert referral.status == "contacted" and referral.contacted_at is not None
        with pytest.raises(ValidationError):  # credited only comes from a signed contract
            referrals.referral_status_set(
                tenant=tenant_a, referral=referral, status="credited", changed_by=sales_a
            )


def test_public_share_link_creates_a_referral_lead(client, tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        referrer = CustomerFactory(tenant=tenant_a, name="刘雅琴")
        account = accounts_services.referral_account_ensure(tenant=tenant_a, customer=referrer)
    url = reverse("referrals:join", kwargs={"tenant_slug": tenant_a.slug, "code": account.code})
    page = client.get(url)
    assert page.status_code == 200 and "刘**" in page.content.decode()
    bad = client.post(url, {"name": "林涛", "phone": "12345"})
    assert bad.status_code == 400 and "11 位手机号" in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"name": "林涛", "phone": "139-0000-4444", "community": "融创玉兰公馆"})
    assert response.status_code == 200 and "提交成功" in response.content.decode()
    with tenant_context(tenant_a):
        referred = Customer.objects.get(phone="+8613900004444")
        referral = Referral.objects.get(referred=referred)
        assert referral.referrer_id == referrer.pk and referral.source == ReferralSource.LINK
        assert referred.source_channel == "referral"
        assert referred.leads.get().referral_code == account.code


def test_share_link_with_a_code_of_another_tenant_is_404(client, tenant_a, tenant_b):
    with tenant_context(tenant_b):
        account_b = accounts_services.referral_account_ensure(
            tenant=tenant_b, customer=CustomerFactory(tenant=tenant_b)
        )
    url = reverse("referrals:join", kwargs={"tenant_slug": tenant_a.slug, "code": account_b.code})
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "x", "phone": "13900005555"}).status_code == 404


def test_survey_promoter_gets_an_sms_invitation_once(tenant_a, django_capture_on_commit_callbacks):
    from crm import events

    with tenant_context(tenant_a):
        promoter = CustomerFactory(tenant=tenant_a, name="黄秀英", phone="+8613900006666")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a):
            events.publish(
                events.EventType.SURVEY_ANSWERED,
                tenant=tenant_a,
                customer_id=promoter.pk,
                survey_id=77,
                kind="nps",
                score=10,
            )
    from crm.notifications.models import SmsMessage

    with tenant_context(tenant_a):
        account = ReferralAccount.objects.get(customer=promoter)
        sms = SmsMessage.objects.get()  # twice announced, one message
        assert sms.phone == promoter.phone and sms.dedupe_key == "referral-invite:survey:77"
        assert account.code in sms.message
        assert f"/referrals/join/{tenant_a.slug}/{account.code}/" in sms.message
