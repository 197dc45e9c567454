"""Business-time arithmetic with holidays and 调休 (pure: no database)."""

from __future__ import annotations

import datetime
import zoneinfo

from crm.workdays.business import BusinessCalendar

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
NINE, SIX_PM = datetime.time(9, 0), datetime.time(18, 0)
MON_FRI = frozenset(range(5))


def at(day: int, hour: int, minute: int = 0, month: int = 9) -> datetime.datetime:
    return datetime.datetime(2027, month, day, hour, minute, tzinfo=SH)


# 2027-10-01 (Fri) … 10-07 (Thu) closed for 国庆; Saturday 2027-10-09 is a 调休 working day.
NATIONAL_DAY = {datetime.date(2027, 10, d): False for d in range(1, 8)} | {datetime.date(2027, 10, 9): True}
OFFICE = BusinessCalendar(tz=SH, opens=NINE, closes=SIX_PM, weekdays=MON_FRI, exceptions=NATIONAL_DAY)


def test_holiday_closes_weekdays_and_tiaoxiu_opens_a_saturday():
    assert not OFFICE.is_business_day(datetime.date(2027, 10, 4))  # a Monday in the holiday
    assert OFFICE.is_business_day(datetime.date(2027, 10, 9))  # a Saturday made a working day
    assert not OFFICE.is_business_day(datetime.date(2027, 10, 10))  # an ordinary Sunday
    assert OFFICE.is_business_day(datetime.date(2027, 9, 30))


def test_clock_deferred_over_the_holiday_to_the_next_opening():
    start, deferred = OFFICE.clock_start(at(30, 19))  # Thursday evening before the holiday
    assert (start, deferred) == (at(8, 9, month=10), True)  # Friday 10-08, 09:00
    assert OFFICE.clock_start(at(30, 10)) == (at(30, 10), False)


def test_minutes_skip_the_closed_days():
    # 15 minutes starting at 17:50 on the eve: 10 today, 5 after the holiday
    assert OFFICE.add_minutes(at(30, 17, 50), 15) == at(8, 9, 5, month=10)
    # 9 working hours from Friday 10-08 09:00: Friday to 18:00, then Saturday (调休) 09:00
    assert OFFICE.add_minutes(at(8, 9, month=10), 9 * 60) == at(8, 18, month=10)
    assert OFFICE.add_minutes(at(8, 9, month=10), 9 * 60 + 1) == at(9, 9, 1, month=10)


def test_subtract_is_the_mirror_of_add():
    end = OFFICE.add_minutes(at(30, 17, 50), 15)
    assert OFFICE.subtract_minutes(end, 15) == at(30, 17, 50)
    # one working day before 10-08 09:00 is 09-30 09:00 (the holiday doesn't count)
    whole = OFFICE.whole_days()
    assert whole.subtract_minutes(at(8, 9, month=10), 24 * 60) == at(30, 9)


def test_whole_days_pause_only_on_closed_days():
    whole = OFFICE.whole_days()
    # a 24-hour ticket clock opened Thursday 09-30 20:00 resumes on 10-08 and ends there at 20:00
    assert whole.add_minutes(at(30, 20), 24 * 60) == at(8, 20, month=10)


def test_latest_open_moment_for_reminders():
    assert OFFICE.latest_open_at_or_before(at(5, 10, month=10)) == at(30, 17, 59)
    assert OFFICE.latest_open_at_or_before(at(30, 10)) == at(30, 10)


def test_open_every_day_with_no_exception_is_wall_clock():
    always = BusinessCalendar(tz=SH, opens=NINE, closes=NINE, weekdays=frozenset(range(7)))
    assert always.always_open
    assert always.add_minutes(at(30, 23, 55), 15) == at(1, 0, 10, month=10)
    closed_one_day = BusinessCalendar(
        tz=SH,
        opens=NINE,
        closes=NINE,
        weekdays=frozenset(range(7)),
        exceptions={datetime.date(2027, 10, 1): False},
    )
    assert not closed_one_day.always_open
    assert closed_one_day.add_minutes(at(30, 23, 55), 15) == at(2, 0, 10, month=10)
