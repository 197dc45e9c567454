"""Who may see which customer: the one place every list, detail, search, export, API and widget asks.

- ``customers.view_all`` (managers): every customer of the tenant.
- ``customers.view_pool`` (sales): their own customers, the pool (公海) and unowned customers —
  or every customer when the tenant sets ``CustomerSettings.sales_visibility = "all"``.
- A team lead (``User.is_team_lead`` with a ``team``) also sees the customers owned by the team.
- Everyone sees the customers they own or design for, and those of the projects, plans, tickets
  and appointments they are on (providers registered by later apps in ``crm.extensions``).

Another rep's customer is simply not in the queryset, so pages and the API answer 404 (existence
does not leak). A full phone number is shown only to managers, the owner and the people on the
customer's work; others see the masked number and may reveal it (audited).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from crm import extensions
from crm.permissions import has_permission
from customers.models import Customer, CustomerSettings, FollowUp, Lead, SalesVisibility


def sees_all_customers(user) -> bool:
    if has_permission(user, "customers.view_all"):
        return True
    if not has_permission(user, "customers.view_pool"):
        return False
    visibility = CustomerSettings.objects.values_list("sales_visibility", flat=True).first()
    return visibility == SalesVisibility.ALL


def involvement_q(user) -> Q:
    """Customers ``user`` works on: owned, designed, or on a registered app's row (project, ticket …)."""
    condition = Q(owner_id=user.pk) | Q(designer_id=user.pk)
    for provider in extensions.customer_involvement_providers():
        condition |= provider(user=user)
    return condition


def visible_customers_q(user) -> Q | None:
    """The condition on ``Customer`` for ``user``; ``None`` means every customer of the tenant."""
    if sees_all_customers(user):
        return None
    if user is None or not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    condition = involvement_q(user)
    if has_permission(user, "customers.view_pool"):
        condition |= Q(in_pool=True) | Q(owner__isnull=True)
    if getattr(user, "is_team_lead", False) and getattr(user, "team", ""):
        condition |= Q(owner__team=user.team, owner__tenant_id=user.tenant_id)
    return condition


def customers_visible_to(user, queryset: QuerySet[Customer] | None = None) -> QuerySet[Customer]:
    """``queryset`` (default: all customers of the current tenant) narrowed to what ``user`` may see."""
    queryset = Customer.objects.all() if queryset is None else queryset
    condition = visible_customers_q(user)
    return queryset if condition is None else queryset.filter(condition)


def leads_visible_to(user, queryset: QuerySet[Lead] | None = None) -> QuerySet[Lead]:
    """Leads of visible customers, and leads assigned to ``user``."""
    queryset = Lead.objects.all() if queryset is None else queryset
    condition = visible_customers_q(user)
    if condition is None:
        return queryset
    return queryset.filter(
        Q(customer_id__in=Customer.objects.filter(condition).values("pk")) | Q(assignee_id=user.pk)
    )


def follow_ups_visible_to(user, queryset: QuerySet[FollowUp] | None = None) -> QuerySet[FollowUp]:
    queryset = FollowUp.objects.all() if queryset is None else queryset
    return related_rows_visible_to(user, queryset)


def related_rows_visible_to(user, queryset: QuerySet, field: str = "customer") -> QuerySet:
    """Any app's rows with a ``customer`` foreign key, narrowed to the customers ``user`` may see."""
    condition = visible_customers_q(user)
    if condition is None:
        return queryset
    return queryset.filter(**{f"{field}_id__in": Customer.objects.filter(condition).values("pk")})


def visible_customer_or_404(user, pk, queryset: QuerySet[Customer] | None = None) -> Customer:
    """The customer ``pk`` if ``user`` may see it; 404 otherwise (another rep's customer does not exist)."""
    try:
        return customers_visible_to(user, queryset).get(pk=pk)
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise Http404(_("客户不存在。")) from None


def customer_ids_with_full_phone(user, customers: Iterable[Customer]) -> set[int]:
    """Of ``customers``, those whose full number ``user`` may see (one query for a whole page)."""
    customers = list(customers)
    if not customers or user is None or not getattr(user, "is_authenticated", False):
        return set()
    if has_permission(user, "customers.view_all"):
        return {customer.pk for customer in customers}
    owned = {customer.pk for customer in customers if customer.owner_id == user.pk}
    rest = [customer.pk for customer in customers if customer.pk not in owned]
    if not rest:
        return owned
    involved = Customer.objects.filter(involvement_q(user), pk__in=rest).values_list("pk", flat=True)
    return owned | set(involved)


def full_phone_visible(user, customer: Customer) -> bool:
    return customer.pk in customer_ids_with_full_phone(user, [customer])


# Apps whose rows are "about a customer": their rows follow the customer's visibility, directly (a
# foreign key to ``Customer``) or through the row they hang on (a project's logs, a ticket's visits).
CUSTOMER_SCOPED_APPS = {"customers", "engagement", "sales", "quotes", "projects", "aftercare", "referrals"}
# The delivery and service apps: for sales users (``customers.view_pool``) their rows follow the
# customer's visibility too (another rep's customer's projects, tickets and referrals are gone; a
# rep on a project keeps it through the involvement providers). Delivery and service staff keep
# their role's queues there (work is dispatched by project and ticket, not by customer owner);
# their customer pages stay narrowed to the customers they are on.
WORK_APPS = {"projects", "aftercare", "referrals"}


def _customer_paths(model) -> list[str]:
    """Lookups from ``model`` to a customer id: its own foreign keys to ``Customer``, else those of
    the rows it points at (one hop: ``project__customer``); empty when it is not about a customer."""

    def direct(target) -> list[str]:
        return [
            field.name
            for field in target._meta.concrete_fields
            if field.is_relation and field.many_to_one and field.related_model is Customer
        ]

    own = direct(model)
    if own:
        return own
    paths: list[str] = []
    for field in model._meta.concrete_fields:
        if field.is_relation and field.many_to_one and field.related_model is not None:
            related = field.related_model
            if related._meta.app_label in CUSTOMER_SCOPED_APPS:
                paths.extend(f"{field.name}__{name}" for name in direct(related))
    return paths


def rows_visible_to(user, queryset: QuerySet) -> QuerySet:
    """Any customer-scoped app's rows narrowed to the customers ``user`` may see (the one selector
    the API base, ``crm.access`` and the pages of projects, aftercare and referrals use)."""
    model = queryset.model
    if model._meta.app_label not in CUSTOMER_SCOPED_APPS:
        return queryset
    if model._meta.app_label in WORK_APPS and not has_permission(user, "customers.view_pool"):
        return queryset
    if model is Customer:
        return customers_visible_to(user, queryset)
    if model is Lead:
        return leads_visible_to(user, queryset)
    paths = _customer_paths(model)
    if not paths:
        return queryset
    condition = visible_customers_q(user)
    if condition is None:
        return queryset
    visible = Customer.objects.filter(condition).values("pk")
    either = Q()
    for path in paths:
        either |= Q(**{f"{path}_id__in": visible})
    return queryset.filter(either)


def narrow_api_rows(queryset: QuerySet, *, user) -> QuerySet:
    """Row narrower registered in ``crm.extensions`` (API base viewset, ``crm.access``)."""
    return rows_visible_to(user, queryset)
