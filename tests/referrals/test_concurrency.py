"""Concurrency proofs on real PostgreSQL with real threads (one connection each).

- 50 concurrent contract_signed handlings for the same referral -> exactly one credit entry.
- 50 concurrent redemptions of ¥100 against ¥1,000 -> exactly 10 succeed, balance 0, cached == sum.
"""

from __future__ import annotations

import pytest
from django.db import connection

from tests.referrals.concurrency import credit_race, prepare_tenant, redemption_race

pytestmark = pytest.mark.django_db(transaction=True)


def test_50_concurrent_contract_signed_events_credit_exactly_once():
    assert connection.vendor == "postgresql"
    result, facts = credit_race(prepare_tenant("race-credit"), threads=50)
    print(f"\n[referrals] 50 concurrent contract_signed handlings: {result.seconds * 1000:.0f} ms")
    errors = [outcome[1] for outcome in result.outcomes if outcome[0] != "ok"]
    assert errors == []  # every handler finished cleanly (the lock serialised them)
    assert facts["credit_entries"] == 1
    assert facts["balance_fen"] == facts["rule_fen"] == 100_000
    assert facts["credited_referrals"] == 1
    assert facts["discrepancies"] == []


def test_50_concurrent_redemptions_of_100_against_1000_let_exactly_10_through():
    assert connection.vendor == "postgresql"
    result, facts = redemption_race(
        prepare_tenant("race-redeem"), threads=50, balance_fen=100_000, each_fen=10_000
    )
    print(f"\n[referrals] 50 concurrent redemptions of ¥100 against ¥1,000: {result.seconds * 1000:.0f} ms")
    assert result.count("error") == 0, [o[1] for o in result.outcomes if o[0] == "error"]
    assert result.count("ok") == 10
    assert result.count("rejected") == 40
    assert all("amount_fen" in o[1].message_dict for o in result.outcomes if o[0] == "rejected")
    assert facts["redemptions"] == 10
    assert facts["balance_fen"] == 0 == facts["sum_fen"]
    assert facts["min_balance_after"] == 0  # never negative at any point
    assert facts["discrepancies"] == []


def test_concurrent_second_referrers_cannot_both_win():
    from tests.referrals.concurrency import link_race

    result, facts = link_race(prepare_tenant("race-link"), threads=20)
    print(f"\n[referrals] 20 concurrent referrers for one customer: {result.seconds * 1000:.0f} ms")
    assert result.count("error") == 0, [o[1] for o in result.outcomes if o[0] == "error"]
    assert result.count("ok") == 1 and result.count("rejected") == 19
    winner = next(o[1] for o in result.outcomes if o[0] == "ok")
    assert facts["referrals"] == [winner]
