"""``{% customer_rows rows %}``: the customer list's table rows, written in one Python pass.

The list page shows 25–100 rows of ten cells; as template code that was ~600 variable and tag
nodes per page, the largest part of the page's time. The cells' values come precomputed from
``customers.selectors.list_rows``; here they are only placed (and escaped) into the row markup.
"""

from __future__ import annotations

from html import escape

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

register = template.Library()

ROW = """    <tr>
      <td class="crm-card-title"><a href="{url}">{name}</a>
        {pool_badge}
        {value_badge}</td>
      <td data-label="{phone_label}">{phone_html}</td>
      <td data-label="{community_label}">{community}{layout}</td>
      <td class="crm-hide-sm">{customer_type_label}</td>
      <td class="crm-hide-sm">{budget}<br><small>{budget_tier_label}</small></td>
      <td class="crm-hide-sm">{source_channel_label}</td>
      <td data-label="{lifecycle_cell_label}">{lifecycle_label} <small>{intent_label}</small></td>
      <td data-label="{follow_up_label}">{follow_up_status_label}
        <small class="{silent}">{activity_label}</small></td>
      <td class="crm-hide-sm">{owner}</td>
      <td class="crm-hide-sm">{tags_html}</td>
    </tr>
"""
#: Plain-text cells of ``list_rows``: escaped here.
TEXT = (
    "url",
    "name",
    "community",
    "customer_type_label",
    "budget",
    "budget_tier_label",
    "source_channel_label",
    "lifecycle_label",
    "intent_label",
    "follow_up_status_label",
    "activity_label",
    "owner",
)


@register.simple_tag
def customer_rows(rows: list[dict]) -> SafeString:
    """Every value is escaped (``escape``) unless it is already safe HTML (``*_html``)."""
    pool_badge = f'<span class="crm-badge warn">{escape(_("公海"))}</span>'
    headings = {
        "phone_label": escape(_("手机号")),
        "community_label": escape(_("小区")),
        "lifecycle_cell_label": escape(_("生命周期")),
        "follow_up_label": escape(_("跟进")),
    }
    html = []
    for row in rows:
        layout = ""
        if row["layout"]:
            area = f" · {escape(str(row['area']))}㎡" if row["area"] else ""
            layout = f"<br><small>{escape(str(row['layout']))}{area}</small>"
        value_badge = ""
        if row["high_value"]:
            value_badge = f'<span class="crm-badge ok">{escape(str(row["value_tier_label"]))}</span>'
        html.append(
            ROW.format(
                **{name: escape(str(row[name])) for name in TEXT},
                **headings,
                pool_badge=pool_badge if row["in_pool"] else "",
                value_badge=value_badge,
                phone_html=conditional_escape(row["phone_html"]),
                layout=layout,
                silent="crm-overdue" if row["silent"] else "",
                tags_html=conditional_escape(row["tags_html"]),
            )
        )
    return mark_safe("".join(html))  # noqa: S308 - every value above is escaped
