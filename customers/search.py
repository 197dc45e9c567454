"""The customer list's free-text search ``q``: name or community (case-insensitive), or phone digits.

One meaning on every database: the name or the community contains the text (``icontains``), or,
when the text holds at least four digits, the phone contains those digits.

On PostgreSQL the row-level security policy keeps ``LIKE`` from using the trigram indexes (it is
not LEAKPROOF), so a text of three characters or more is first looked up by
``customer_search_ids`` (customers/migrations/0018, SECURITY DEFINER, the policy's tenant rule):

* a selective text comes back as the complete list of the tenant's matching ids; the list then
  reads ``id = ANY(…) AND <the plain condition>`` (still under RLS and the tenant filter; the plain
  condition drops a row changed since the look-up);
* a broad text (many matches among the tenant's newest rows, or more than ``ID_CAP``) comes back
  as "too many", and so does platform scope: the plain condition, which the list's ordered index
  scan satisfies after a few rows — its page and its capped count stop early.

Shorter text has no trigram to look up and is mostly broad: plain condition, no look-up. The plain
condition is written as ``(CASE WHEN … THEN 1 ELSE 0 END) > 0`` so the planner, which under RLS
cannot read the columns' statistics for ``LIKE`` (not LEAKPROOF), assumes it matches often (⅓ of
the rows, not ½ %) and chooses the ordered scan that stops early over reading the whole tenant and
sorting it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Case, F, IntegerField, Q, Value, When
from django.db.models.expressions import Expression
from django.db.models.lookups import GreaterThan

SEARCH_FUNCTION = "customer_search_ids"
MIN_PHONE_DIGITS = 4
MIN_TRIGRAM_LENGTH = 3
#: More matches than this: the plain condition (the list counts only up to 1,000 anyway).
ID_CAP = 1000
#: 5-digit windows of the searched digits sent to the phone-gram index (all are rechecked).
PHONE_GRAM = 5
MAX_PHONE_GRAMS = 8


def _contains_pattern(text: str) -> str:
    """What Django's ``contains``/``icontains`` send as the ``LIKE`` pattern (wildcards escaped)."""
    return f"%{connection.ops.prep_for_like_query(text)}%"


def phone_grams_query(digits: str) -> str:
    """The tsquery (text) the phone-gram index answers for ``digits`` (≥ 4 digits, only digits).

    Four digits: any window that starts with them (``'1234':*``, the window may end the phone).
    More: every 5-digit window must be in the phone; a spread-out subset of them is enough, since
    the phone's ``LIKE`` is rechecked.
    """
    if len(digits) < PHONE_GRAM:
        return f"'{digits}':*"
    windows = list(dict.fromkeys(digits[i : i + PHONE_GRAM] for i in range(len(digits) - PHONE_GRAM + 1)))
    if len(windows) > MAX_PHONE_GRAMS:
        step = (len(windows) - 1) / (MAX_PHONE_GRAMS - 1)
        windows = list(dict.fromkeys(windows[round(i * step)] for i in range(MAX_PHONE_GRAMS)))
    return " & ".join(f"'{window}'" for window in windows)


class PkInArray(Expression):
    """``<pk> = ANY(%s)`` with the ids as one array parameter: one index condition on the primary
    key, whatever the number of ids (``pk__in`` would send one parameter per id, and raise
    ``EmptyResultSet`` for none, which the list's capped count cannot compile)."""

    output_field = BooleanField()

    def __init__(self, ids: list[int]) -> None:
        super().__init__()
        self.ids = ids
        self.pk: Any = F("pk")

    def get_source_expressions(self) -> list[Any]:
        return [self.pk]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.pk,) = exprs

    def as_sql(self, compiler, connection, **extra_context):  # noqa: ARG002 - Expression signature
        sql, params = compiler.compile(self.pk)
        return f"{sql} = ANY(%s::bigint[])", [*params, self.ids]


def _plain_q(text: str, phone_digits: str | None) -> Q:
    condition = Q(name__icontains=text) | Q(community__icontains=text)
    if phone_digits:
        condition |= Q(phone__contains=phone_digits)
    return condition


def _dense(condition: Q) -> GreaterThan:
    """``(CASE WHEN condition THEN 1 ELSE 0 END) > 0``: the same rows, estimated at a third of
    them (see the module docstring). A third, not a half (a bare boolean ``CASE``): at ½ the
    capped count of a large tenant (9 % of the table) became a sequential scan of the whole table,
    which reads every other tenant's rows first when the tenant lies at its end; at ⅓ it reads the
    tenant's rows through its index (bitmap), and the page still takes the ordered index scan."""
    return GreaterThan(Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField()), 0)


def search_ids(text: str, phone_digits: str | None, *, cap: int | None = None) -> list[int] | None:
    """The tenant's matching ids, or ``None`` for "more than ``cap`` (default ``ID_CAP``), or
    platform scope: filter plainly"."""
    cap = ID_CAP if cap is None else cap
    phone = (
        (_contains_pattern(phone_digits), phone_grams_query(phone_digits)) if phone_digits else (None, None)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {SEARCH_FUNCTION}(%s, %s, %s, %s)", [_contains_pattern(text), phone[0], phone[1], cap]
        )
        return cursor.fetchone()[0]


def customer_search_q(text: str) -> Q | Expression:
    """The condition for ``?q=text`` (already stripped, not empty).

    On PostgreSQL a text of three characters or more costs one look-up statement here, when the
    filter is applied (inside the request's tenant transaction).
    """
    digits = "".join(ch for ch in text if ch.isdigit())
    phone_digits = digits if len(digits) >= MIN_PHONE_DIGITS else None
    condition = _plain_q(text, phone_digits)
    if connection.vendor != "postgresql":
        return condition
    # The phone-gram index knows the digits 0-9 only (other Unicode digits: the plain condition).
    if len(text) >= MIN_TRIGRAM_LENGTH and (phone_digits is None or phone_digits.isascii()):
        ids = search_ids(text, phone_digits)
        if ids is not None:
            return Q(PkInArray(ids)) & condition
    return _dense(condition)
