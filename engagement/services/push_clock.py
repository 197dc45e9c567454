"""When a push rule may send and who is held out: period keys, quiet hours, the control group.

Pure functions of the rule and the time (the tenant's wall clock), shared by the one-at-a-time
decision in :mod:`engagement.services.pushes` and the batched one in :mod:`.push_batch`.
"""

from __future__ import annotations

import datetime
import hashlib

from django.utils import timezone

from engagement.models import PushPeriod, PushRule


def in_control_group(*, rule_id: int, customer_id: int, percent: int) -> bool:
    digest = hashlib.sha256(f"push-control:{rule_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent


def period_key(rule: PushRule, now: datetime.datetime) -> str:
    local = timezone.localtime(now, rule.tenant.zoneinfo)
    if rule.period == PushPeriod.MONTHLY:
        return local.strftime("%Y-%m")
    if rule.period == PushPeriod.WEEKLY:
        year, week, _day = local.isocalendar()
        return f"{year}-W{week:02d}"
    return "once"


def in_quiet_hours(rule: PushRule, now: datetime.datetime) -> bool:
    """Quiet hours are the tenant's wall-clock times (its time zone, not the server's)."""
    local = timezone.localtime(now, rule.tenant.zoneinfo).time()
    start, end = rule.quiet_start, rule.quiet_end
    if start == end:
        return False
    return (start <= local or local < end) if start > end else (start <= local < end)


def quiet_hours_end(rule: PushRule, now: datetime.datetime) -> datetime.datetime:
    """The first moment after ``now`` outside the quiet hours (``now`` itself when not quiet)."""
    if not in_quiet_hours(rule, now):
        return now
    zone = rule.tenant.zoneinfo
    local = timezone.localtime(now, zone)
    end = datetime.datetime.combine(local.date(), rule.quiet_end, tzinfo=zone)
    return end if end > local else end + datetime.timedelta(days=1)
