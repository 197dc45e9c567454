"""What quotes adds to other apps' pages and rules: the customer panel, the progress page section,
and the signing requirement "an accepted quotation". Also the one point where other apps add to
the quotation page (``register_quotation_section``): quotes imports none of them."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from crm.extensions import CustomerSection, Panel, render_panel
from crm.page_data import PageQuery, label, queryset_rows, rows
from crm.permissions import has_permission
from quotes import selectors
from quotes.models import Quotation, QuotationStatus

QuotationSection = Callable[..., Panel | None]
_quotation_sections: list[QuotationSection] = []


def register_quotation_section(section: QuotationSection) -> None:
    """``section(request=..., quotation=...)`` returns a panel for the quotation page, or None."""
    if section not in _quotation_sections:
        _quotation_sections.append(section)


def quotation_sections(*, request, quotation: Quotation) -> list[Panel]:
    panels = [section(request=request, quotation=quotation) for section in _quotation_sections]
    return sorted((panel for panel in panels if panel is not None), key=lambda panel: panel.order)


# The customer page's panel, read in the page's single statement (crm.extensions.customer_page):
# the rows of ``selectors.quotations_for_customer_panel`` (same visibility) as values.


QUOTATIONS_SQL = """
SELECT q.id, q.number, q.version, q.title, q.total_fen, q.status FROM quotes_quotation q
WHERE q.tenant_id = %s AND q.customer_id = %s AND q.status <> %s
ORDER BY q.created_at DESC, q.id DESC LIMIT 10"""


def _panel_queries(*, request, tenant, customer_id: int, checked: bool) -> dict[str, PageQuery] | None:  # noqa: ARG001
    if not has_permission(getattr(request, "user", None), "quotes.view"):
        return None
    if checked:  # the page has checked the customer: all of its rows are visible (written out)
        return {
            "quotations": rows(QUOTATIONS_SQL, [tenant.pk, customer_id, QuotationStatus.SUPERSEDED.value])
        }
    quotations = (
        selectors.quotations_visible_to(request.user)
        .filter(customer_id=customer_id)
        .exclude(status=QuotationStatus.SUPERSEDED)
        .order_by("-created_at", "-id")
        .values("id", "number", "version", "title", "total_fen", "status")[:10]
    )
    return {"quotations": queryset_rows(quotations)}


def _panel(*, request, tenant, customer_id: int, data: dict) -> Panel | None:  # noqa: ARG001
    quotations = [
        SimpleNamespace(
            pk=row["id"],
            number=row["number"],
            version=row["version"],
            title=row["title"],
            total_fen=row["total_fen"],
            status_label=label(QuotationStatus, row["status"]),
        )
        for row in data["quotations"]
    ]
    html = render_panel(
        "quotes/_customer_panel.html",
        {
            "customer_id": customer_id,
            "quotations": quotations,
            "can_edit": has_permission(request.user, "quotes.edit"),
        },
        request=request,
    )
    return Panel(title=_("报价单"), html=html, order=35)


CUSTOMER_SECTION = CustomerSection(name="quotes", panel_queries=_panel_queries, panel=_panel)


def has_accepted_quotation(*, tenant, project) -> bool:  # noqa: ARG001 - the check signature
    return Quotation.objects.filter(project=project, status=QuotationStatus.ACCEPTED).exists()


def accepted_quotation_total(*, tenant, project) -> int | None:  # noqa: ARG001 - the source signature
    """The contract amount a signing defaults to: the accepted quotation's total (fen)."""
    quotation = selectors.accepted_quotation_for(project=project)
    return quotation.total_fen if quotation is not None else None


def progress_section(*, request, tenant, link, token: str) -> Panel | None:  # noqa: ARG001
    quotations = selectors.quotations_for_progress_page(project=link.project)
    if not quotations:
        return None
    state = getattr(request, "quote_progress_state", {})
    html = render_to_string(
        "quotes/_progress_section.html",
        {
            "quotations": quotations,
            "token": token,
            "code_for": state.get("code_for"),
            "errors": state.get("errors", {}),
        },
        request=request,
    )
    return Panel(title=_("报价单"), html=html, order=40)


def merge_customer_rows(*, tenant, source, target, actor, merge) -> dict:  # noqa: ARG001 - handler signature
    """Customer merge (crm.extensions): the merged customer's quotations (every version) follow the
    surviving customer; the default undo moves them back."""
    from customers.services.merge import move_customer_rows, moved_key

    return {
        "moved": {
            moved_key(Quotation, "customer"): move_customer_rows(
                Quotation, "customer", source=source, target=target
            )
        }
    }
