"""Input bounds shared by forms, the API, filters, intake and import: one rule per kind of value.

Why: PostgreSQL rejects NUL and out-of-range integers and time-zone offsets with a DataError (a
500), Python date arithmetic overflows near year 1 and 9999, and Excel files cannot hold C0 control
characters, so one such value accepted anywhere used to break a page or the export for good.
"""

from __future__ import annotations

import datetime
import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

# Unicode "Cc" except tab, newline and carriage return, plus surrogates (not encodable as UTF-8)
# and the two XML non-characters.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
# The largest single amount, in fen (money is integer fen everywhere): 10^12 fen = 100 亿元, far above
# any renovation and far inside bigint, so sums of many amounts still fit.
MONEY_MAX = 10**12
# Dates we plan with: wide enough for any real record, narrow enough that "+5 years" never overflows.
MIN_YEAR = 1900
MAX_YEAR = 2200
# Real UTC offsets lie within ±14:00; PostgreSQL rejects beyond ±15:59.
MAX_UTC_OFFSET = datetime.timedelta(hours=14)


def strip_control_characters(value: str) -> str:
    """For writing legacy text where control characters cannot go (e.g. an .xlsx cell)."""
    return CONTROL_CHARACTERS.sub("", value)


@deconstructible
class NoControlCharactersValidator:
    """Text must not contain control characters (tab and line breaks are fine)."""

    message = _("不能包含控制字符。")
    code = "control_characters"

    def __call__(self, value) -> None:
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other) -> bool:
        return isinstance(other, NoControlCharactersValidator)

    def __hash__(self) -> int:
        return hash(type(self))


validate_no_control_characters = NoControlCharactersValidator()


def validate_date_range(value: datetime.date) -> None:
    """Dates (and datetimes) between MIN_YEAR and MAX_YEAR."""
    if isinstance(value, datetime.date) and not (MIN_YEAR <= value.year <= MAX_YEAR):
        raise ValidationError(
            _("日期必须在 %(min)s 年到 %(max)s 年之间。"),
            code="date_out_of_range",
            params={"min": MIN_YEAR, "max": MAX_YEAR},
        )


def validate_utc_offset(value: datetime.datetime) -> None:
    """An aware datetime's offset must be a real one (within ±14:00)."""
    offset = value.utcoffset() if isinstance(value, datetime.datetime) else None
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        raise ValidationError(_("时区偏移必须在 ±14:00 以内。"), code="invalid_utc_offset")


def validate_datetime(value: datetime.datetime) -> None:
    validate_utc_offset(value)
    validate_date_range(value)
