"""The customer list's free-text search ``q``: name or community (case-insensitive), or phone digits.

One meaning on every database: the name or the community contains the text (``icontains``), or,
when the text holds at least four digits, the phone contains those digits. On PostgreSQL a text of
three characters or more goes through ``customer_search_ids`` (customers/migrations/0014), which
can use the trigram indexes under row-level security; the list keeps its own RLS and tenant filter
on top (``id IN (…)``). Shorter text has no trigram to look up, so it stays a plain filter, which
the list's ordered index scan stops early on.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

SEARCH_FUNCTION = "customer_search_ids"
MIN_PHONE_DIGITS = 4
MIN_TRIGRAM_LENGTH = 3


def _contains_pattern(text: str) -> str:
    """What Django's ``contains``/``icontains`` send as the ``LIKE`` pattern (wildcards escaped)."""
    return f"%{connection.ops.prep_for_like_query(text)}%"


def customer_search_q(text: str) -> Q:
    """The condition for ``?q=text`` (already stripped, not empty)."""
    digits = "".join(ch for ch in text if ch.isdigit())
    phone_digits = digits if len(digits) >= MIN_PHONE_DIGITS else None
    if connection.vendor == "postgresql" and len(text) >= MIN_TRIGRAM_LENGTH:
        phone_pattern = _contains_pattern(phone_digits) if phone_digits else None
        ids = RawSQL(f"SELECT {SEARCH_FUNCTION}(%s, %s)", [_contains_pattern(text), phone_pattern])  # noqa: S611 - constant SQL, parameters bound
        return Q(pk__in=ids)
    condition = Q(name__icontains=text) | Q(community__icontains=text)
    if phone_digits:
        condition |= Q(phone__contains=phone_digits)
    return condition
