"""Reads shared by the quotation pages, the API, the customer panel and the signing gate."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import User
from customers.visibility import related_rows_visible_to
from projects.models import Project
from quotes.models import CatalogueItem, Package, Quotation, QuotationStatus


def quotations_visible_to(user: User) -> QuerySet[Quotation]:
    """Quotations of customers ``user`` may see (another rep's customer's quotations are not there)."""
    return related_rows_visible_to(user, Quotation.objects.all())


def quotations_for_list(
    *, user: User, status: str = "", customer_id: int | None = None
) -> QuerySet[Quotation]:
    queryset = quotations_visible_to(user).select_related("customer", "project", "created_by")
    if status:
        queryset = queryset.filter(status=status)
    if customer_id is not None:
        queryset = queryset.filter(customer_id=customer_id)
    return queryset.order_by("-created_at", "-id")


def versions_of(quotation: Quotation) -> list[Quotation]:
    return list(Quotation.objects.filter(number=quotation.number).order_by("version"))


def accepted_quotation_for(*, project: Project) -> Quotation | None:
    """The project's accepted quotation (the newest if several): its total is the contract amount."""
    return (
        Quotation.objects.filter(project=project, status=QuotationStatus.ACCEPTED)
        .order_by("-decided_at", "-id")
        .first()
    )


def active_catalogue() -> tuple[list[CatalogueItem], list[Package]]:
    return (
        list(CatalogueItem.objects.filter(active=True).order_by("category", "name", "id")),
        list(Package.objects.filter(active=True).order_by("name", "id")),
    )


def quotations_for_customer_panel(*, user: User, customer_id: int, limit: int = 10) -> list[Quotation]:
    return list(
        quotations_visible_to(user)
        .filter(customer_id=customer_id)
        .exclude(status=QuotationStatus.SUPERSEDED)
        .order_by("-created_at", "-id")[:limit]
    )


def quotations_for_progress_page(*, project: Project) -> list[Quotation]:
    """What the customer sees on the progress page: sent and decided versions, not drafts."""
    return list(
        Quotation.objects.filter(
            project=project,
            status__in=[QuotationStatus.SENT, QuotationStatus.ACCEPTED, QuotationStatus.REJECTED],
        )
        .prefetch_related("lines")
        .order_by("-created_at", "-id")[:5]
    )
