"""The two concurrency proofs, shared by the tests and ``benchmarks/referrals_concurrency.py``.

Real threads, each with its own PostgreSQL connection, released together by a barrier. Callers
must run with committed data (``django_db(transaction=True)`` in pytest).
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import OperationalError, connection
from django.utils import timezone

from crm.models import Role, Tenant
from crm.tenancy import tenant_context
from referrals import handlers
from referrals.models import EntryKind, LedgerEntry, ReferralAccount, ReferralSettings
from referrals.selectors import ledger_discrepancies
from referrals.services import _common, accounts, ledger, referrals
from tests.customers.factories import CustomerFactory
from tests.factories import StaffFactory
from tests.projects.factories import ProjectFactory


@dataclass
class RaceResult:
    threads: int
    seconds: float  # from the barrier's release to the last thread finishing
    outcomes: list = field(
        default_factory=list
    )  # ("ok", value) | ("rejected", ValidationError) | ("error", exc)

    def count(self, kind: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome[0] == kind)


def _connect_with_retry(attempts: int = 100) -> None:
    """Open this thread's connection; wait politely if the server is briefly out of slots."""
    for attempt in range(attempts):
        try:
            connection.ensure_connection()
            return
        except OperationalError as error:
            text = str(error)
            if "too many clients" not in text and "remaining connection slots" not in text:
                raise
            time.sleep(0.05 * (attempt + 1))
    connection.ensure_connection()


def race(threads: int, work: Callable[[int], object]) -> RaceResult:
    released: list[float] = []
    finished: list[float] = [0.0] * threads
    barrier = threading.Barrier(threads, action=lambda: released.append(time.perf_counter()))
    result = RaceResult(threads=threads, seconds=0.0, outcomes=[None] * threads)

    def run(index: int) -> None:
        try:
            _connect_with_retry()
            barrier.wait(timeout=120)
            try:
                result.outcomes[index] = ("ok", work(index))
            except ValidationError as error:
                result.outcomes[index] = ("rejected", error)
            finished[index] = time.perf_counter()
        except Exception as error:  # noqa: BLE001 - reported by the caller's assertions
            result.outcomes[index] = ("error", error)
            finished[index] = time.perf_counter()
        finally:
            connection.close()

    pool = [threading.Thread(target=run, args=(index,)) for index in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    result.seconds = max(finished) - released[0] if released else float("nan")
    return result


def prepare_tenant(slug: str) -> Tenant:
    tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": f"并发测试 {slug}"})
    return tenant


def credit_race(tenant: Tenant, threads: int = 50) -> tuple[RaceResult, dict]:
    """``threads`` concurrent contract_signed handlings for the same referral."""
    with tenant_context(tenant):
        staff = StaffFactory(tenant=tenant, roles=[Role.SALES])
        referrer = CustomerFactory(tenant=tenant, name="推荐人")
        referred = CustomerFactory(tenant=tenant, name="新客户")
        referrals.referral_create(
            tenant=tenant, referrer=referrer, referred=referred, source="manual", created_by=staff
        )
        project = ProjectFactory(
            tenant=tenant,
            customer=referred,
            contract_number=f"RACE-{referred.pk}",
            contract_amount_fen=20_000_000,
            signed_on=timezone.localdate() - datetime.timedelta(days=1),
        )

    def work(index: int):
        with tenant_context(tenant):  # exactly what crm.events.run_handler does, minus its logging
            handlers.on_contract_signed(tenant=tenant, project_id=project.pk, customer_id=referred.pk)
            return LedgerEntry.objects.filter(kind=EntryKind.CREDIT, account__customer=referrer).count()

    result = race(threads, work)
    with tenant_context(tenant):
        account = ReferralAccount.objects.get(customer=referrer)
        facts = {
            "credit_entries": LedgerEntry.objects.filter(account=account, kind=EntryKind.CREDIT).count(),
            "balance_fen": account.balance_fen,
            "credited_referrals": account.credited_referrals,
            "discrepancies": ledger_discrepancies(tenant=tenant)[1],
            "rule_fen": ledger.credit_amount_fen(
                rule=ReferralSettings.objects.first() or ReferralSettings(tenant=tenant),
                contract_amount_fen=20_000_000,
            ),
        }
    return result, facts


def redemption_race(
    tenant: Tenant, threads: int = 50, balance_fen: int = 100_000, each_fen: int = 10_000
) -> tuple[RaceResult, dict]:
    """``threads`` concurrent redemptions of ``each_fen`` against ``balance_fen``."""
    with tenant_context(tenant):
        staff = StaffFactory(tenant=tenant, roles=[Role.SALES])
        customer = CustomerFactory(tenant=tenant, name="老客户")
        account = accounts.referral_account_ensure(tenant=tenant, customer=customer)
        locked = _common._lock_account(account.pk)
        ledger._append_entry(
            tenant=tenant,
            account=locked,
            kind=EntryKind.CREDIT,
            amount_fen=balance_fen,
            idempotency_key=f"race-funding:{account.pk}",
            description="并发测试注资",
        )

    def work(index: int):
        with tenant_context(tenant):
            return ledger.referral_redeem(
                tenant=tenant,
                account=account,
                amount_fen=each_fen,
                target="appliances",
                description=f"并发抵扣 #{index}",
                redeemed_by=staff,
            ).pk

    result = race(threads, work)
    with tenant_context(tenant):
        account.refresh_from_db()
        entries = LedgerEntry.objects.filter(account=account)
        facts = {
            "redemptions": entries.filter(kind=EntryKind.REDEMPTION).count(),
            "balance_fen": account.balance_fen,
            "sum_fen": sum(entries.values_list("amount_fen", flat=True)),
            "min_balance_after": min(entries.values_list("balance_after_fen", flat=True)),
            "discrepancies": ledger_discrepancies(tenant=tenant)[1],
        }
    return result, facts


def link_race(tenant: Tenant, threads: int = 20) -> tuple[RaceResult, dict]:
    """``threads`` different referrers claim the same new customer at once: exactly one wins."""
    with tenant_context(tenant):
        referred = CustomerFactory(tenant=tenant, name="抢推荐的客户")
        referrers = CustomerFactory.create_batch(threads, tenant=tenant)

    def work(index: int):
        with tenant_context(tenant):
            return referrals.referral_create(
                tenant=tenant, referrer=referrers[index], referred=referred, source="manual"
            ).referrer_id

    result = race(threads, work)
    with tenant_context(tenant):
        from referrals.models import Referral

        facts = {
            "referrals": list(
                Referral.objects.filter(referred=referred).values_list("referrer_id", flat=True)
            )
        }
    return result, facts
