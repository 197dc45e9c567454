"""``{% lead_rows rows now %}``: the lead inbox's 200 table rows, written in one Python pass.

As template code the rows were ~40 nodes each (dates, countdown, ``{% url %}``, ``{% trans %}``,
``tel_link``/``contact_buttons``, the score's factors): ~8,000 nodes and two thirds of the page's
time. The markup is the template's, byte for byte (``tests/customers/test_lead_inbox_rows.py``
renders both); every value is escaped here.
"""

from __future__ import annotations

import datetime
from html import escape
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.timesince import timeuntil
from django.utils.translation import gettext as _

from crm.templatetags.crm_ui import contact_button_labels, contact_buttons_html, tel_link
from customers.models import Lead

register = template.Library()

ROW = """
    <tr class="lead-row{overdue}" data-due="{due_iso}">
      <td data-label="{remaining_label}"><span class="countdown{overdue}" data-due="{due_epoch}" \
data-overdue-label="{overdue_label}">{countdown}</span>
        {not_started}
        {breached}</td>
      <td class="crm-card-title"><a href="{url}#follow-up">{name}</a></td>
      <td data-label="{phone_label}">{tel} {buttons}</td>
      <td data-label="{channel_label}">{channel}</td>
      <td data-label="{received_label}">{received}</td>
      <td data-label="{assignee_label}">{assignee}</td>
      <td data-label="{score_label}" class="lead-score">{score}</td>
      <td class="crm-hide-sm">{note}</td>
    </tr>
  """


def _local(value: datetime.datetime) -> datetime.datetime:
    """What the ``date`` filter formats: aware values in the active time zone."""
    return timezone.localtime(value) if timezone.is_aware(value) else value


def _month_day_time(value: datetime.datetime) -> str:
    """``|date:"m-d H:i"`` (zero-padded numbers in every language)."""
    return _local(value).strftime("%m-%d %H:%M")


def _percent(score: Any) -> str:
    """``{% widthratio score 1 100 %}``."""
    try:
        return str(round(float(score) * 100))
    except (ValueError, TypeError, OverflowError):
        return ""


def _score_cell(score: dict | None) -> str:
    if not score:
        return "—"
    factors = "".join(
        f"<br><small>{conditional_escape(factor['label']) if 'label' in factor else ''}</small>"
        for factor in (score.get("factors") or [])[:2]
    )
    return f"{_percent(score.get('score', ''))}%{factors}"


def _channel_labels() -> dict[str, str]:
    return {str(value): str(label) for value, label in Lead._meta.get_field("source_channel").flatchoices}


@register.simple_tag
def lead_rows(rows: list[dict], now: datetime.datetime) -> SafeString:
    """The rows of ``LeadInboxView`` (``lead``, ``phone``, ``score``, ``overdue``, ``not_started``)."""
    labels = {
        "remaining_label": escape(_("剩余时间")),
        "overdue_label": escape(_("已超时")),
        "phone_label": escape(_("手机号")),
        "channel_label": escape(_("渠道")),
        "received_label": escape(_("到达")),
        "assignee_label": escape(_("负责销售")),
        "score_label": escape(_("评分")),
    }
    notified, escalated = escape(_("已通知负责人和经理")), escape(_("已升级"))
    breached = f'<span class="crm-badge danger" title="{notified}">{escalated}</span>'
    not_started = _("非营业时间到达，%(t)s 开始计时")
    buttons = contact_button_labels()
    channels = _channel_labels()
    detail_url = reverse("customers:detail", args=[0]).removesuffix("0/")
    html = []
    for row in rows:
        lead = row["lead"]
        customer = lead.customer
        due = lead.first_response_due_at
        overdue = " overdue" if row["overdue"] else ""
        html.append(
            ROW.format(
                **labels,
                overdue=overdue,
                due_iso=escape(_local(due).isoformat()),  # |date:'c'
                due_epoch=int(due.timestamp()),  # |date:'U'
                countdown=escape(timeuntil(due, now)),
                not_started=(
                    "<br><small>"
                    + not_started % {"t": escape(_month_day_time(lead.clock_started_at))}
                    + "</small>"
                    if row["not_started"]
                    else ""
                ),
                breached=breached if lead.sla_breached else "",
                url=escape(f"{detail_url}{lead.customer_id}/"),
                name=escape(customer.name),
                tel=tel_link(row["phone"]),
                buttons=contact_buttons_html(row["phone"], customer.wechat_id, buttons),
                channel=escape(channels.get(lead.source_channel, lead.source_channel)),
                received=escape(_month_day_time(lead.received_at)),
                assignee=escape(str(lead.assignee)) if lead.assignee else "—",
                score=_score_cell(row["score"]),
                note=escape(Truncator(str(lead.note)).chars(40)),
            )
        )
    return mark_safe("".join(html))  # noqa: S308 - every value above is escaped
