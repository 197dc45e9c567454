"""Who is asking, for which period and which slice: one object every panel selector takes.

Role scoping lives here, once: a user without ``analytics.view_all`` (a sales user) always gets
their own figures — the sales filter is forced to them, whatever the query string says.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from analytics.periods import Period, parse_period, previous_period
from crm.models import Tenant, User
from crm.permissions import has_permission
from crm.selectors import staff_queryset
from customers.models import SourceChannel

FILTER_FIELDS = ("channel", "sales", "designer", "pm")


@dataclass(frozen=True)
class Scope:
    tenant: Tenant
    period: Period
    previous: Period
    channel: str = ""
    sales_id: int | None = None
    designer_id: int | None = None
    pm_id: int | None = None
    restricted: bool = False  # True: the viewer sees only their own figures
    now: datetime.datetime | None = field(default=None, compare=False)

    def query(self, **overrides) -> dict[str, str]:
        """The dashboard's own query string (period + filters), for links between its pages."""
        params = {"range": self.period.preset}
        if self.period.preset == "custom":
            params.update(start=self.period.start.isoformat(), end=self.period.last_day.isoformat())
        for name, value in (
            ("channel", self.channel),
            ("sales", self.sales_id),
            ("designer", self.designer_id),
            ("pm", self.pm_id),
        ):
            if value:
                params[name] = str(value)
        params.update({key: str(value) for key, value in overrides.items()})
        return params

    def querystring(self, **overrides) -> str:
        return urlencode(self.query(**overrides))

    def filters_dict(self) -> dict:
        return {
            "channel": self.channel or None,
            "sales": self.sales_id,
            "designer": self.designer_id,
            "pm": self.pm_id,
        }


def _user_id(params, name: str, tenant: Tenant) -> int | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationError({name: ValidationError(_("请选择有效的员工。"), code="invalid_user")})
    user_id = int(raw)
    if not staff_queryset(tenant=tenant).filter(pk=user_id).exists():
        # Another tenant's user is as unknown as a missing one.
        raise ValidationError({name: ValidationError(_("请选择有效的员工。"), code="invalid_user")})
    return user_id


def parse_scope(params, *, tenant: Tenant, user: User, today: datetime.date | None = None, now=None) -> Scope:
    """Validate the query string (``range``, ``start``, ``end``, ``channel``, ``sales``, ``designer``,
    ``pm``); raise ``ValidationError`` with field messages and stable codes on bad input."""
    period = parse_period(params, tz=tenant.zoneinfo, today=today)
    channel = (params.get("channel") or "").strip()
    if channel and channel not in SourceChannel.values:
        raise ValidationError({"channel": ValidationError(_("未知的来源渠道。"), code="invalid_channel")})
    restricted = not has_permission(user, "analytics.view_all")
    sales_id = user.pk if restricted else _user_id(params, "sales", tenant)
    return Scope(
        tenant=tenant,
        period=period,
        previous=previous_period(period),
        channel=channel,
        sales_id=sales_id,
        designer_id=None if restricted else _user_id(params, "designer", tenant),
        pm_id=None if restricted else _user_id(params, "pm", tenant),
        restricted=restricted,
        now=now,
    )
