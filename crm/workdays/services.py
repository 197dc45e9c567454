"""Writes to the working calendar: one day at a time, or a whole year imported at once."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm.models import Tenant
from crm.validators import MAX_YEAR, MIN_YEAR
from crm.workdays.models import CalendarDay, DayKind

# What people type in an imported line's kind column, in either language.
KIND_WORDS = {
    "休": DayKind.CLOSED,
    "休息": DayKind.CLOSED,
    "假": DayKind.CLOSED,
    "放假": DayKind.CLOSED,
    "closed": DayKind.CLOSED,
    "holiday": DayKind.CLOSED,
    "班": DayKind.OPEN,
    "上班": DayKind.OPEN,
    "调休": DayKind.OPEN,
    "open": DayKind.OPEN,
    "workday": DayKind.OPEN,
}
MAX_IMPORT_LINES = 400


@dataclass(frozen=True)
class DayEntry:
    date: datetime.date
    kind: str
    name: str = ""


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


@transaction.atomic
def calendar_day_set(*, tenant: Tenant, date: datetime.date, kind: str, name: str = "") -> CalendarDay:
    """Mark ``date`` closed or open (one entry per date: setting it again replaces the entry)."""
    if kind not in DayKind.values:
        raise _error("kind", _("类型须为休息或上班。"), "invalid_kind")
    day, _created = CalendarDay.objects.update_or_create(
        tenant=tenant, date=date, defaults={"kind": kind, "name": name.strip()}
    )
    return day


def calendar_day_delete(*, tenant: Tenant, day: CalendarDay) -> None:
    """Drop an exception: the date follows the weekly business days again."""
    if day.tenant_id != tenant.pk:
        raise _error("day", _("日期不存在。"), "does_not_exist")
    day.delete()


def calendar_lines_parse(*, text: str, year: int) -> list[DayEntry]:
    """``2027-02-06,休,春节`` per line (comma, tab or spaces; kind 休/班/closed/open) → entries.

    Every line is checked before anything is written: one bad line is an error naming the line, so
    an import is all or nothing. A range ``2027-02-06~2027-02-12`` expands to each day.
    """
    entries: dict[datetime.date, DayEntry] = {}
    errors: list[str] = []
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if len(lines) > MAX_IMPORT_LINES:
        raise _error("text", _("最多 %(n)d 行。") % {"n": MAX_IMPORT_LINES}, "too_many_lines")
    for number, line in enumerate(lines, start=1):
        if re.search(r"[,\t，]", line):
            parts = [part.strip() for part in re.split(r"[,\t，]", line, maxsplit=2)]
        else:
            parts = line.split(None, 2)
        if len(parts) < 2:
            errors.append(_("第 %(n)d 行：格式应为“日期,休/班,名称”。") % {"n": number})
            continue
        span, kind_word, name = parts[0], parts[1].lower(), (parts[2] if len(parts) > 2 else "")
        kind = KIND_WORDS.get(kind_word)
        if kind is None:
            errors.append(_("第 %(n)d 行：类型“%(kind)s”应为休或班。") % {"n": number, "kind": parts[1][:20]})
            continue
        try:
            first_text, _sep, last_text = span.partition("~")
            first = datetime.date.fromisoformat(first_text.strip())
            last = datetime.date.fromisoformat(last_text.strip()) if last_text else first
        except ValueError:
            errors.append(_("第 %(n)d 行：日期应为 YYYY-MM-DD。") % {"n": number})
            continue
        if first.year != year or last.year != year or last < first:
            errors.append(
                _("第 %(n)d 行：日期须在 %(year)d 年内且按先后顺序。") % {"n": number, "year": year}
            )
            continue
        day = first
        while day <= last:
            entries[day] = DayEntry(date=day, kind=kind, name=name[:50])
            day += datetime.timedelta(days=1)
    if errors:
        raise ValidationError(
            {"text": [ValidationError(message, code="invalid_line") for message in errors[:20]]}
        )
    return sorted(entries.values(), key=lambda entry: entry.date)


@transaction.atomic
def calendar_year_import(*, tenant: Tenant, year: int, entries: list[DayEntry]) -> int:
    """Replace the year's exceptions with ``entries`` (all or nothing); returns how many were written."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _error("year", _("年份超出范围。"), "invalid_year")
    if any(entry.date.year != year for entry in entries):
        raise _error("days", _("日期须在 %(year)d 年内。") % {"year": year}, "outside_year")
    if len({entry.date for entry in entries}) != len(entries):
        raise _error("days", _("同一日期出现多次。"), "duplicate_date")
    if any(entry.kind not in DayKind.values for entry in entries):
        raise _error("days", _("类型须为休息或上班。"), "invalid_kind")
    CalendarDay.objects.filter(date__year=year).delete()
    CalendarDay.objects.bulk_create(
        CalendarDay(tenant=tenant, date=entry.date, kind=entry.kind, name=entry.name.strip()[:50])
        for entry in entries
    )
    return len(entries)
