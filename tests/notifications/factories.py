"""Notification factories (also registered for the cross-tenant probe). Create inside tenant_context."""

from __future__ import annotations

import uuid

import factory

from crm.models import Role
from crm.notifications.models import Channel, Delivery, Notification, OutboundEmail, SmsMessage
from tests.factories import StaffFactory, probe_factory


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(StaffFactory, tenant=factory.SelfAttribute("..tenant"))
    kind = "lead_assigned"
    title = factory.Sequence(lambda n: f"新线索分配给您：客户{n}")
    body = "请在 15 分钟内首次联系客户。"
    link = "/customers/"
    dedupe_key = factory.Sequence(lambda n: f"test:{n}")


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    notification = factory.SubFactory(NotificationFactory, tenant=factory.SelfAttribute("..tenant"))
    channel = Channel.EMAIL
    dedupe_key = factory.SelfAttribute("notification.dedupe_key")
    target = "staff@example.com"


class SmsMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SmsMessage

    phone = factory.Sequence(lambda n: f"138{n:08d}")
    message = "【安居家装】您的验证码是 123456，5 分钟内有效。"
    dedupe_key = factory.Sequence(lambda n: f"sms:{n}")


@probe_factory(Notification)
def _notification(tenant) -> Notification:
    return NotificationFactory(tenant=tenant, recipient=StaffFactory(tenant=tenant, roles=[Role.MANAGER]))


@probe_factory(Delivery)
def _delivery(tenant) -> Delivery:
    return DeliveryFactory(tenant=tenant)


@probe_factory(SmsMessage)
def _sms(tenant) -> SmsMessage:
    return SmsMessageFactory(tenant=tenant)


@probe_factory(OutboundEmail)
def _outbound_email(tenant) -> OutboundEmail:
    return OutboundEmail.objects.create(
        tenant=tenant,
        address="zhang@example.com",
        subject="儿童房安全设计指南",
        body="正文",
        dedupe_key=f"probe-email:{uuid.uuid4().hex}",
    )
