"""Demo referrals for ``manage.py seed_demo``: a VIP referrer, an ordinary one, one with a shortfall.

Idempotent: customers and projects are found by phone / contract number, every ledger write has a
fixed idempotency key, so running it again changes nothing.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from crm.models import Tenant, User
from crm.money import parse_yuan
from customers.models import Customer
from projects.models import Project
from referrals.models import RedemptionTarget, Referral, ReferralSource, ReferralStatus
from referrals.services import accounts, ledger, referrals, settings

# (referrer name, phone) -> [(referred name, phone, contract amount in yuan or None, community)]
DEMO_REFERRERS = [
    (
        ("刘雅琴", "+8613900210001"),
        [
            ("周建国", "+8613900210011", 186_000, "万科城市花园"),
            ("吴敏", "+8613900210012", 242_000, "保利香槟国际"),
            ("郑晓东", "+8613900210013", 158_000, "绿地海珀"),
            ("王丽华", "+8613900210014", None, "中海御湖"),
        ],
    ),
    (
        ("陈志强", "+8613900210002"),
        [
            ("孙悦", "+8613900210021", 135_000, "碧桂园凤凰城"),
            ("马俊", "+8613900210022", None, "龙湖春江郦城"),
        ],
    ),
    (
        ("黄秀英", "+8613900210003"),
        [("林涛", "+8613900210031", 98_000, "融创玉兰公馆")],
    ),
]


def _customer(name: str, phone: str, owner: User, referral: bool) -> Customer:
    customer, _ = Customer.objects.get_or_create(
        phone=phone,
        defaults={
            "name": name,
            "source_channel": "referral" if referral else "store_walk_in",
            "owner": owner,
        },
    )
    return customer


def _signed_project(customer: Customer, amount_yuan: int, community: str, number: str) -> Project:
    project, created = Project.objects.get_or_create(
        contract_number=number,
        defaults={
            "customer": customer,
            "name": f"{community} {customer.name}宅",
            "address": f"上海市{community}",
            "contract_amount_fen": parse_yuan(amount_yuan),
            "signed_on": timezone.localdate() - datetime.timedelta(days=20),
        },
    )
    return project


def seed_demo(*, tenant: Tenant, staff: dict[str, User]) -> None:
    settings.referral_settings_get(tenant=tenant)  # default rule: ¥1,000 per signed referral
    sales = staff["sales"]
    for index, ((referrer_name, referrer_phone), referred_list) in enumerate(DEMO_REFERRERS):
        referrer = _customer(referrer_name, referrer_phone, sales, referral=False)
        account = accounts.referral_account_ensure(tenant=tenant, customer=referrer)
        for sub, (name, phone, amount, community) in enumerate(referred_list):
            referred = _customer(name, phone, sales, referral=True)
            referral = referrals.referral_create(
                tenant=tenant,
                referrer=referrer,
                referred=referred,
                source=ReferralSource.LINK if sub % 2 == 0 else ReferralSource.MANUAL,
                created_by=sales,
            )
            if amount is not None:
                project = _signed_project(referred, amount, community, f"DEMO-{tenant.slug}-R{index}{sub}")
                ledger.referral_credit_for_contract(tenant=tenant, project_id=project.pk)
            elif referral.status == ReferralStatus.REFERRED:
                referrals.referral_status_set(
                    tenant=tenant, referral=referral, status=ReferralStatus.CONTACTED, changed_by=sales
                )
        account.refresh_from_db()
        if index == 0:  # the VIP spent part of the fund on curtains
            ledger.referral_redeem(
                tenant=tenant,
                account=account,
                amount_fen=80_000,
                target=RedemptionTarget.SOFT_FURNISHING,
                description="客厅及主卧窗帘（软装套餐）",
                redeemed_by=sales,
                client_key="demo-curtains",
            )
        if index == 1:  # spent ¥600 on a range hood, then the referred contract was cancelled
            ledger.referral_redeem(
                tenant=tenant,
                account=account,
                amount_fen=60_000,
                target=RedemptionTarget.APPLIANCES,
                description="方太油烟机",
                redeemed_by=sales,
                client_key="demo-range-hood",
            )
            cancelled = Referral.objects.filter(referrer=referrer, status=ReferralStatus.CREDITED).first()
            if cancelled is not None and cancelled.signed_project_id:
                project = cancelled.signed_project
                if hasattr(project, "cancelled_at") and project.cancelled_at is None:
                    project.cancelled_at = timezone.now()
                    project.save(update_fields=["cancelled_at"])
                ledger.referral_reverse_for_contract(
                    tenant=tenant, project_id=project.pk, reason="客户家庭原因取消合同"
                )
