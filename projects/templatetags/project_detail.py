"""The project page's repeated rows (stage timeline, tabs, stage history, acceptances), written in
one Python pass each: as template loops they were about half the page's template time (issue 12).
Values come precomputed from ``projects.selectors.detail_sections``; here they are only escaped
and placed into the same markup the template wrote.
"""

from __future__ import annotations

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag
def stage_timeline(timeline: list[dict]) -> SafeString:
    return mark_safe(  # noqa: S308 - escaped
        "".join(f'<li class="{entry["state"]}">{escape(entry["info"].name)}</li>' for entry in timeline)
    )


@register.simple_tag
def detail_tabs(tabs: list, current: str) -> SafeString:
    here = ' aria-current="page"'
    return mark_safe(  # noqa: S308 - escaped
        "".join(
            f'<li class="u-no-bullet"><a href="?tab={escape(key)}"{here if key == current else ""}>'
            f"{escape(_(str(label)))}</a></li>"
            for key, label in tabs
        )
    )


@register.simple_tag
def stage_history_rows(history: list[dict]) -> SafeString:
    if not history:
        return mark_safe(f'<tr><td colspan="5">{escape(_("暂无记录。"))}</td></tr>')  # noqa: S308
    back = f' <span class="crm-badge warn">{escape(_("退回"))}</span>'
    return mark_safe(  # noqa: S308 - escaped
        "\n".join(
            f"      <tr><td>{date_filter(localtime(row['changed_at']), 'Y-m-d H:i')}</td>\n"
            f"        <td>{escape(row['from_name'])}</td>\n"
            f"        <td>{escape(row['to_name'])}{back if row['direction'] == 'back' else ''}</td>\n"
            f"        <td>{escape(row['changed_by'])}</td><td>{escape(row['reason'])}</td></tr>"
            for row in history
        )
    )


@register.simple_tag
def acceptance_rows(acceptances: list[dict]) -> SafeString:
    if not acceptances:
        return mark_safe(f"<tr><td>{escape(_('暂无验收记录。'))}</td></tr>")  # noqa: S308
    passed = f'<span class="proj-pass">{escape(_("通过"))}</span>'
    failed = f'<span class="proj-fail">{escape(_("不通过"))}</span>'
    return mark_safe(  # noqa: S308 - escaped
        "\n".join(
            f"      <tr><td>{date_filter(row['accepted_on'], 'Y-m-d')}</td>"
            f"<td>{escape(row['kind_label'])}</td>\n"
            f"        <td>{passed if row['passed'] else failed}</td>\n"
            f"        <td>{escape(row['notes'])}</td><td>{escape(row['recorded_by'])}</td></tr>"
            for row in acceptances
        )
    )
