"""``{% customer_rows rows %}``: the customer list's table rows, written in one Python pass.

The list page shows 25–100 rows of ten cells; as template code that was ~600 variable and tag
nodes per page, the largest part of the page's time. The cells' values come precomputed from
``customers.selectors.list_rows``; here they are only placed (and escaped) into the row markup.
"""

from __future__ import annotations

from html import escape

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
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


#: ``{% customer_list_toolbar %}``'s fixed markup per (language, permissions, script prefix, urlconf).
_toolbar_parts: dict[tuple, dict[str, str]] = {}


def _toolbar_fixed(can_edit: bool, can_settings: bool, can_import: bool, can_export: bool) -> dict[str, str]:
    """The toolbar's markup that depends only on language and permissions, built once per process."""
    key = (get_language(), can_edit, can_settings, can_import, can_export, get_script_prefix(), get_urlconf())
    parts = _toolbar_parts.get(key)
    if parts is not None:
        return parts
    search = escape(_("搜索"))
    head = (
        '<div class="cust-toolbar">\n'
        '  <form method="get" class="cust-search" role="search">\n'
        '    <input type="search" name="q" value="'
    )
    after_q = (
        f'" placeholder="{escape(_("姓名 / 手机号 / 小区"))}" aria-label="{search}">\n'
        f'    <button type="submit">{search}</button>\n'
        "  </form>\n  "
    )
    if can_edit:
        url, label = escape(reverse("customers:create")), escape(_("新建客户"))
        after_q += f'<a role="button" href="{url}">{label}</a>'
    after_q += "\n  "
    if can_settings:
        url, label = escape(reverse("customers:settings")), escape(_("设置"))
        after_q += f'<a role="button" class="outline secondary" href="{url}">{label}</a>\n'
        url, label = escape(reverse("customers:audit-log")), escape(_("审计日志"))
        after_q += f'  <a role="button" class="outline secondary" href="{url}">{label}</a>'
    after_q += "\n  "
    if can_import:
        url, label = escape(reverse("customers:import")), escape(_("导入"))
        after_q += f'<a role="button" class="outline" href="{url}">{label}</a>'
    after_q += "\n  "
    export = escape(reverse("customers:export")) if can_export else ""
    parts = {
        "head": head,
        "after_q": after_q,
        "export_csv": f'\n    <a role="button" class="outline secondary" href="{export}?',
        "csv_label": f'&format=csv">{escape(_("导出 CSV"))}</a>',
        "export_xlsx": f'\n    <a role="button" class="outline secondary" href="{export}?',
        "xlsx_label": f'&format=xlsx">{escape(_("导出 Excel"))}</a>\n  ',
        "segments_head": (
            '\n  <form class="u-row-tight" method="get">\n'
            '    <select class="u-select-compact" name="segment" '
            f'aria-label="{escape(_("分群"))}" data-autosubmit>\n'
            f'      <option value="">{escape(_("— 已保存的分群 —"))}</option>\n      '
        ),
        "segments_tail": "\n    </select>\n  </form>\n  ",
    }
    _toolbar_parts[key] = parts
    return parts


@register.simple_tag(takes_context=True)
def customer_list_toolbar(context: template.Context) -> SafeString:
    """The list's toolbar (search, action buttons, segment menu), as the template wrote it.

    ~30 ``{% trans %}`` and 7 ``{% url %}`` nodes cost ≈ 3 ms a page; the fixed parts are built
    once per language and permission set, only the search text, the filters' query string and
    the segment menu are written per request.
    """
    fixed = _toolbar_fixed(
        bool(context.get("can_edit")),
        bool(context.get("can_settings")),
        bool(context.get("can_import")),
        bool(context.get("can_export")),
    )
    html = [fixed["head"], conditional_escape(context["request"].GET.get("q", "")), fixed["after_q"]]
    if context.get("can_export"):
        querystring = conditional_escape(context.get("querystring") or "")
        html += [fixed["export_csv"], querystring, fixed["csv_label"], fixed["export_xlsx"], querystring]
        html.append(fixed["xlsx_label"])
    html.append("\n  ")
    segments = context.get("segments")
    if segments:
        html.append(fixed["segments_head"])
        selected = context.get("segment")
        selected_pk = selected.pk if selected else None
        for s in segments:
            mark = " selected" if selected and selected_pk == s["pk"] else ""
            html.append(f'<option value="{s["pk"]}"{mark}>{conditional_escape(s["name"])}</option>')
        html.append(fixed["segments_tail"])
    html.append("\n</div>")
    return mark_safe("".join(html))  # noqa: S308 - every value above is escaped
