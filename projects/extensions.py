"""What projects adds to other apps' pages, registered in ProjectsConfig.ready via crm.extensions:
the customer page's timeline and panel, and the widgets on the managers' dashboard and the home page
(where projects stand and what is stuck)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING

from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from crm.extensions import CustomerSection, Panel, TimelineEntry, render_panel
from crm.page_data import PageQuery, at, person, rows
from crm.permissions import has_permission
from projects import selectors
from projects.models import (
    STAGE_ORDER,
    ChangeOrder,
    ChangeOrderStatus,
    Project,
    Rectification,
    Stage,
    stage_index,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def customers_worked_on(*, user) -> Q:
    """Visibility provider (crm.extensions): customers of the projects ``user`` is on."""
    staff = Q(designer_id=user.pk) | Q(project_manager_id=user.pk) | Q(supervisor_id=user.pk)
    staff |= Q(service_owner_id=user.pk)
    return Q(pk__in=Project.objects.filter(staff).values("customer_id"))


def dashboard_widget(*, request, tenant) -> Panel | None:
    if not has_permission(getattr(request, "user", None), "projects.view"):
        return None
    active = Project.objects.filter(cancelled_at__isnull=True)
    counts = dict(active.values_list("stage").annotate(n=Count("id")).values_list("stage", "n"))
    names = selectors.stage_names(tenant=tenant)
    context = {
        "stages": [{"name": names.get(key, key), "count": counts[key]} for key in names if counts.get(key)],
        "active": sum(counts.values()),
        "overdue": selectors.overdue_projects(tenant=tenant).count(),
        "open_rectifications": Rectification.objects.filter(status=Rectification.Status.OPEN).count(),
        "pending_change_orders": ChangeOrder.objects.filter(status=ChangeOrderStatus.SENT).count(),
    }
    html = render_to_string("projects/_dashboard.html", context, request=request)
    return Panel(title=_("装修项目"), html=html, order=20)


def home_widget(*, request, tenant) -> Panel | None:
    """我的项目 for designers, project managers and supervisors, overdue stages first."""
    user = getattr(request, "user", None)
    if not has_permission(user, "projects.view") or user is None:
        return None
    mine = list(
        Project.objects.filter(Q(project_manager=user) | Q(designer=user) | Q(supervisor=user))
        .filter(cancelled_at__isnull=True)
        .exclude(stage=Stage.HANDOVER)
        .select_related("customer")
        .order_by("stage_entered_at")[:50]
    )
    if not mine:
        return None
    settings = selectors.stage_settings(tenant=tenant)
    names = {info.key: info.name for info in settings}
    for project in mine:
        project.overdue = selectors.is_overdue(project, settings)
        project.stage_name = names.get(project.stage, project.stage)
    mine.sort(key=lambda project: not project.overdue)
    context = {
        "projects": mine[:10],
        "total": len(mine),
        "can_log": has_permission(user, "projects.daily_log"),
        "can_inspect": has_permission(user, "projects.inspect"),
    }
    html = render_to_string("projects/_home.html", context, request=request)
    return Panel(title=_("我的项目"), html=html, order=20)


# --------------------------------------------------------------------------- signing requirements
# Signing follows the pipeline: before a contract is signed, the steps a tenant marks as required
# (``SigningPolicy``) must be done. Each step is a key with a label and checks; projects registers
# the measurement stage, later apps register what they know (quotes: an accepted quotation; sales:
# a completed 量房 appointment counts as measurement). A key is met when ANY of its checks passes.


@dataclass(frozen=True)
class SigningRequirement:
    key: str
    label: StrOrPromise
    checks: tuple[Callable[..., bool], ...]

    def is_met(self, *, tenant, project: Project) -> bool:
        return any(check(tenant=tenant, project=project) for check in self.checks)


_signing_requirements: dict[str, SigningRequirement] = {}


def register_signing_requirement(key: str, label: StrOrPromise, check: Callable[..., bool]) -> None:
    """``check(*, tenant, project) -> bool``; registering a second check under a key adds an
    alternative way to meet it (the first label stays)."""
    known = _signing_requirements.get(key)
    if known is None:
        _signing_requirements[key] = SigningRequirement(key=key, label=label, checks=(check,))
    elif check not in known.checks:
        _signing_requirements[key] = SigningRequirement(
            key=key, label=known.label, checks=(*known.checks, check)
        )


def signing_requirements() -> dict[str, SigningRequirement]:
    return dict(_signing_requirements)


def measurement_done(*, tenant, project: Project) -> bool:  # noqa: ARG001 - the check signature
    """The project has moved past the measurement stage (量房 done)."""
    return stage_index(project.stage) > stage_index(Stage.MEASUREMENT)


# --------------------------------------------------------------------------- contract amount default
# Signing without an amount takes it from a registered source: quotes offers the accepted
# quotation's total. ``fn(*, tenant, project) -> int | None`` (fen); the first amount found wins.

_contract_amount_sources: list[Callable[..., int | None]] = []


def register_contract_amount_source(source: Callable[..., int | None]) -> None:
    if source not in _contract_amount_sources:
        _contract_amount_sources.append(source)


def contract_amount_default(*, tenant, project: Project) -> int | None:
    for source in _contract_amount_sources:
        amount = source(tenant=tenant, project=project)
        if amount:
            return amount
    return None


# --------------------------------------------------------------------------- customer progress page
# Later apps add sections to the customer's progress page (quotes: the quotation to accept).
# ``fn(*, request, tenant, link, token) -> Panel | None``.

_progress_sections: list[Callable[..., Panel | None]] = []


def register_progress_section(provider: Callable[..., Panel | None]) -> None:
    if provider not in _progress_sections:
        _progress_sections.append(provider)


def progress_sections(*, request, tenant, link, token: str) -> list[Panel]:
    panels = [
        provider(request=request, tenant=tenant, link=link, token=token) for provider in _progress_sections
    ]
    return sorted((panel for panel in panels if panel is not None), key=lambda panel: panel.order)


def _refresh_customer_facts(*, tenant, customer) -> None:
    """Re-report signed projects and contract total of ``customer`` after projects moved."""
    from customers.services.customers import customer_apply_project_facts
    from projects.services._common import _apply_customer_facts

    project = Project.objects.filter(customer=customer).select_related("customer").order_by("-id").first()
    if project is not None:
        _apply_customer_facts(tenant=tenant, project=project, lifecycle=None)
    else:
        customer_apply_project_facts(
            tenant=tenant, customer=customer, signed_projects=0, contract_total_fen=0
        )


def merge_customer_projects(*, tenant, source, target, actor, merge) -> dict:  # noqa: ARG001 - handler signature
    """Customer merge (crm.extensions): projects follow the survivor; both customers' facts refresh."""
    from customers.services.merge import move_customer_rows, moved_key

    ids = move_customer_rows(Project, "customer", source=source, target=target)
    if ids:
        for customer in (source, target):
            _refresh_customer_facts(tenant=tenant, customer=customer)
    return {"moved": {moved_key(Project, "customer"): ids}}


def unmerge_customer_projects(*, tenant, source, target, actor, merge, record) -> None:  # noqa: ARG001
    """Undo of a merge: the rows are back (default undo); refresh both customers' facts."""
    if (record.get("moved") or {}).get(f"{Project._meta.label}.customer"):
        for customer in (source, target):
            _refresh_customer_facts(tenant=tenant, customer=customer)


# --------------------------------------------------------------------------- customer page section
# The customer page's stage entries and projects panel, read in the page's single statement.

STAGE_NAMES_SQL = "SELECT s.stage, s.name FROM projects_stagesetting s WHERE s.tenant_id = %s"
STAGE_HISTORY_SQL = f"""
SELECT h.changed_at, h.to_stage, h.direction, h.reason, h.project_id, p.name AS project,
       {person("u")} AS changed_by
FROM projects_stagehistory h JOIN projects_project p ON p.id = h.project_id
LEFT JOIN crm_user u ON u.id = h.changed_by_id
WHERE h.tenant_id = %s AND p.customer_id = %s ORDER BY h.changed_at DESC, h.id DESC LIMIT 100"""
PROJECTS_SQL = f"""
SELECT p.id, p.name, p.stage, p.cancelled_at, p.contract_amount_fen, {person("m")} AS project_manager
FROM projects_project p LEFT JOIN crm_user m ON m.id = p.project_manager_id
WHERE p.tenant_id = %s AND p.customer_id = %s ORDER BY p.created_at DESC, p.id DESC"""


def _names(rows_: list[dict]) -> dict[str, str]:
    """``selectors.stage_names`` from the tenant's stage setting rows."""
    custom = {row["stage"]: row["name"] for row in rows_}
    return {key: custom.get(key, str(Stage(key).label)) for key in STAGE_ORDER}


def _timeline_queries(*, tenant, customer_id: int) -> dict[str, PageQuery]:
    return {
        "names": rows(STAGE_NAMES_SQL, [tenant.pk]),
        "history": rows(STAGE_HISTORY_SQL, [tenant.pk, customer_id]),
    }


def _timeline(*, data: dict) -> list[TimelineEntry]:
    names = _names(data["names"])
    entries = []
    for row in data["history"]:
        values = {"project": row["project"], "stage": names.get(row["to_stage"], row["to_stage"])}
        if row["direction"] == "back":
            title = _("%(project)s：退回「%(stage)s」") % values
        else:
            title = _("%(project)s：进入「%(stage)s」") % values
        entries.append(
            TimelineEntry(
                occurred_at=at(row["changed_at"]),
                kind="project_stage",
                title=title,
                detail=row["reason"],
                url=reverse("projects:detail", args=[row["project_id"]]),
                actor=row["changed_by"] or "",
            )
        )
    return entries


def _panel_queries(*, request, tenant, customer_id: int, checked: bool) -> dict[str, PageQuery] | None:  # noqa: ARG001
    return {"projects": rows(PROJECTS_SQL, [tenant.pk, customer_id])}  # stage names: the timeline's


def _panel(*, request, tenant, customer_id: int, data: dict) -> Panel | None:
    if not data["projects"]:
        return None
    names = _names(data["names"])
    projects = [
        SimpleNamespace(
            pk=project["id"],
            name=project["name"],
            stage_name=names[project["stage"]],
            cancelled_at=project["cancelled_at"],
            contract_amount_fen=project["contract_amount_fen"],
            project_manager=project["project_manager"] or "",
        )
        for project in data["projects"]
    ]
    html = render_panel(
        "projects/_customer_panel.html", {"projects": projects, "customer_id": customer_id}, request=request
    )
    return Panel(title=_("装修项目"), html=html, order=20)


CUSTOMER_SECTION = CustomerSection(
    name="projects",
    timeline_queries=_timeline_queries,
    timeline=_timeline,
    panel_queries=_panel_queries,
    panel=_panel,
)
