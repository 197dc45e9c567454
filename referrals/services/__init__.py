"""Referral writes: linking who referred whom, crediting, redeeming, reversing, adjusting, VIP.

The locking rule (ARCHITECTURE.md, "Money-like ledgers"): every path that writes an account or a
referral first locks the referrer's :class:`ReferralAccount` row (``SELECT ... FOR UPDATE``), then —
if it needs it — the :class:`Referral` row. One lock, one order, so concurrent writers queue up
instead of deadlocking, and every balance decision is made on a value nobody else can change.
The idempotency key (unique per tenant) is the second wall: a write that somehow ran twice fails
on the constraint instead of paying twice.

One module per concern; import the concern (``from referrals.services import ledger``), this package
re-exports nothing.
"""
