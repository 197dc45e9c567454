"""Extension points that let later apps add to earlier apps' pages without imports going backwards.

``customers`` renders a customer's unified timeline and detail panels, but only ``projects``,
``aftercare`` and ``referrals`` know their own rows. They register providers in their
``AppConfig.ready()``; the customer detail page asks this module.

- A **customer section** (:class:`CustomerSection`): an app's timeline entries and panel for the
  customer detail page, whose data sets are SQL fragments read with every other app's in ONE
  statement (``crm.page_data``). The preferred form (issue 12: one round trip per page).
- A **timeline provider** ``fn(*, tenant, customer_id) -> list[TimelineEntry]`` (runs its own queries).
- A **panel provider** ``fn(*, request, tenant, customer_id) -> Panel | None``: a titled block of
  rendered HTML (use ``render_to_string``) shown on the customer detail page.
- A **project panel provider** ``fn(*, request, tenant, project) -> Panel | None``: the same on the
  project detail page.
- A **dashboard widget** ``fn(*, request, tenant) -> Panel | None`` shown on the managers'
  dashboard (看板); each app contributes its own figures.
- A **home widget** ``fn(*, request, tenant) -> Panel | None``: the signed-in user's own work on
  the workbench (我的待办: leads waiting for me, follow-ups due today, my overdue projects …).
- A **personal-data section** ``fn(*, tenant, customer_id) -> dict``: keys added to the customer's
  PIPL personal-data export (e.g. ``{"consents": [...]}``), so every app's data about a person is in it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crm.page_data import PageQuery, read_json

if TYPE_CHECKING:
    from django.db.models import Q


@dataclass(frozen=True)
class TimelineEntry:
    occurred_at: datetime.datetime
    kind: str  # e.g. "follow_up", "project_stage", "ticket", "referral"
    title: str
    detail: str = ""
    url: str = ""
    actor: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    html: str
    order: int = 100


TimelineProvider = Callable[..., list[TimelineEntry]]
PanelProvider = Callable[..., Panel | None]

_timeline_providers: list[TimelineProvider] = []
_panel_providers: list[PanelProvider] = []
_dashboard_widgets: list[Callable[..., Panel | None]] = []
_home_widgets: list[Callable[..., Panel | None]] = []


def register_customer_timeline(provider: TimelineProvider) -> None:
    if provider not in _timeline_providers:
        _timeline_providers.append(provider)


def register_customer_panel(provider: PanelProvider) -> None:
    if provider not in _panel_providers:
        _panel_providers.append(provider)


QueryMaker = Callable[..., dict[str, PageQuery] | None]


@dataclass(frozen=True)
class CustomerSection:
    """One app's part of the customer detail page, read in the page's single statement.

    ``timeline_queries(*, tenant, customer_id)`` and ``panel_queries(*, request, tenant, customer_id,
    checked)`` name the app's data sets (``crm.page_data`` fragments); ``panel_queries`` returns ``None`` when
    there is no panel for this user (e.g. without the permission); ``checked`` says the page has
    already made sure ``request.user`` may see the customer, so the customer's rows need no
    visibility filter of their own. ``timeline(*, data)`` builds the
    entries from the timeline's data; ``panel(*, request, tenant, customer_id, data)`` the panel from
    the timeline's and the panel's data together (a panel showing the newest of the timeline's rows
    does not read them twice). The timeline never depends on the user, the panel may."""

    name: str
    timeline_queries: QueryMaker | None = None
    timeline: Callable[..., list[TimelineEntry]] | None = None
    panel_queries: QueryMaker | None = None
    panel: Callable[..., Panel | None] | None = None

    def queries(
        self, *, request, tenant, customer_id: int, with_panel: bool, checked: bool = False
    ) -> tuple[dict[str, PageQuery], bool]:
        """Every data set of the section, under ``timeline.<name>`` / ``panel.<name>``, and whether
        there is a panel to build (asked for, and ``panel_queries`` did not say ``None``)."""
        queries: dict[str, PageQuery] = {}
        if self.timeline_queries is not None:
            for key, query in (self.timeline_queries(tenant=tenant, customer_id=customer_id) or {}).items():
                queries[f"timeline.{key}"] = query
        if not with_panel or self.panel is None:
            return queries, False
        panel_queries = (
            self.panel_queries(request=request, tenant=tenant, customer_id=customer_id, checked=checked)
            if self.panel_queries is not None
            else {}
        )
        if panel_queries is None:
            return queries, False
        for key, query in panel_queries.items():
            queries[f"panel.{key}"] = query
        return queries, True

    def build(self, *, request, tenant, customer_id: int, data: dict, with_panel: bool):
        """``(entries, panel)`` from the decoded values of :meth:`queries`."""
        timeline_data = {key[9:]: value for key, value in data.items() if key.startswith("timeline.")}
        entries = self.timeline(data=timeline_data) if self.timeline is not None else []
        panel = None
        if with_panel and self.panel is not None:
            panel_data = {key[6:]: value for key, value in data.items() if key.startswith("panel.")}
            panel = self.panel(
                request=request, tenant=tenant, customer_id=customer_id, data={**timeline_data, **panel_data}
            )
        return entries, panel

    def read_timeline(self, *, tenant, customer_id: int) -> list[TimelineEntry]:
        """This section's entries alone (one statement), as a plain timeline provider returns them."""
        queries, _panel = self.queries(request=None, tenant=tenant, customer_id=customer_id, with_panel=False)
        data = read_json(queries)
        return self.build(request=None, tenant=tenant, customer_id=customer_id, data=data, with_panel=False)[
            0
        ]

    def read_panel(self, *, request, tenant, customer_id: int) -> Panel | None:
        """This section's panel alone (one statement), as a plain panel provider returns it."""
        queries, has_panel = self.queries(
            request=request, tenant=tenant, customer_id=customer_id, with_panel=True
        )
        if not has_panel:
            return None
        data = read_json(queries)
        return self.build(
            request=request, tenant=tenant, customer_id=customer_id, data=data, with_panel=True
        )[1]


@dataclass
class CustomerPage:
    timeline: list[TimelineEntry]
    panels: list[Panel]
    data: dict[str, Any] = field(default_factory=dict)  # every data set read, by full name


_customer_sections: list[CustomerSection] = []


def render_panel(template_name: str, context: dict, *, request) -> str:
    """A panel's HTML without running every context processor again (the page runs them once): the
    panel templates use ``request``, ``csrf_token`` and ``perms`` besides their own context."""
    from django.contrib.auth.context_processors import PermWrapper
    from django.template.context_processors import csrf
    from django.template.loader import get_template

    from crm.context_processors import role_perms

    base: dict[str, object] = {"request": request}
    if request is not None:
        base.update(csrf(request))
        user = getattr(request, "user", None)
        if user is not None:
            base["perms"] = role_perms(request).get("perms") or PermWrapper(user)
    return get_template(template_name).render({**base, **context})


def register_customer_section(section: CustomerSection) -> None:
    _customer_sections[:] = [existing for existing in _customer_sections if existing.name != section.name]
    _customer_sections.append(section)


def customer_page(
    *,
    request,
    tenant,
    customer_id: int,
    own: dict[str, PageQuery] | None = None,
    checked: bool = False,
    with_panels: bool = True,
    limit: int = 200,
) -> CustomerPage:
    """Timeline (newest first, ``limit`` entries) and panels of every app, plus the calling page's
    ``own`` data sets, with every section's data read in ONE statement. Plain providers registered
    with ``register_customer_timeline`` / ``register_customer_panel`` still run their own queries."""
    queries: dict[str, PageQuery] = dict(own or {})
    with_panel: dict[str, bool] = {}
    for section in _customer_sections:
        section_queries, with_panel[section.name] = section.queries(
            request=request, tenant=tenant, customer_id=customer_id, with_panel=with_panels, checked=checked
        )
        for key, query in section_queries.items():
            queries[f"{section.name}.{key}"] = query
    values = read_json(queries)

    entries: list[TimelineEntry] = []
    panels: list[Panel] = []
    for section in _customer_sections:
        prefix = f"{section.name}."
        data = {key[len(prefix) :]: value for key, value in values.items() if key.startswith(prefix)}
        section_entries, panel = section.build(
            request=request,
            tenant=tenant,
            customer_id=customer_id,
            data=data,
            with_panel=with_panel[section.name],
        )
        entries.extend(section_entries)
        if panel is not None:
            panels.append(panel)
    for provider in _timeline_providers:
        entries.extend(provider(tenant=tenant, customer_id=customer_id))
    if with_panels:
        for panel_provider in _panel_providers:
            panel = panel_provider(request=request, tenant=tenant, customer_id=customer_id)
            if panel is not None:
                panels.append(panel)
    entries.sort(key=lambda entry: entry.occurred_at, reverse=True)
    panels.sort(key=lambda panel: panel.order)
    return CustomerPage(timeline=entries[:limit], panels=panels, data=values)


def customer_timeline(*, tenant, customer_id: int, limit: int = 200) -> list[TimelineEntry]:
    """Every registered app's entries for one customer, newest first."""
    return customer_page(
        request=None, tenant=tenant, customer_id=customer_id, with_panels=False, limit=limit
    ).timeline


def customer_panels(*, request, tenant, customer_id: int) -> list[Panel]:
    """Every app's panel for one customer (reads the timeline's data too: one statement either way)."""
    return customer_page(request=request, tenant=tenant, customer_id=customer_id).panels


_project_panel_providers: list[PanelProvider] = []


def register_project_panel(provider: PanelProvider) -> None:
    """``provider(*, request, tenant, project) -> Panel | None``: a block on the project detail page
    (e.g. sales' appointments and tasks of the project), so later apps add to it without imports."""
    if provider not in _project_panel_providers:
        _project_panel_providers.append(provider)


def project_panels(*, request, tenant, project) -> list[Panel]:
    panels = [
        provider(request=request, tenant=tenant, project=project) for provider in _project_panel_providers
    ]
    return sorted((panel for panel in panels if panel is not None), key=lambda panel: panel.order)


_replaced_dashboard_widgets: set[Callable[..., Panel | None]] = set()


def replace_dashboard_widgets(*providers: Callable[..., Panel | None]) -> None:
    """Drop widgets the dashboard itself now shows (e.g. a panel with the same figures), whether
    they registered before or after the call."""
    _replaced_dashboard_widgets.update(providers)
    _dashboard_widgets[:] = [existing for existing in _dashboard_widgets if existing not in providers]


def register_dashboard_widget(provider: Callable[..., Panel | None]) -> None:
    if provider not in _dashboard_widgets and provider not in _replaced_dashboard_widgets:
        _dashboard_widgets.append(provider)


def dashboard_widgets(*, request, tenant) -> list[Panel]:
    panels = [provider(request=request, tenant=tenant) for provider in _dashboard_widgets]
    return sorted((panel for panel in panels if panel is not None), key=lambda panel: panel.order)


_replaced_home_widgets: set[Callable[..., Panel | None]] = set()


def register_home_widget(
    provider: Callable[..., Panel | None], *, replaces: tuple[Callable[..., Panel | None], ...] = ()
) -> None:
    """``replaces``: widgets this one supersedes (it shows their figures), dropped from the workbench
    whether they registered before or after it, so nothing appears twice."""
    _replaced_home_widgets.update(replaces)
    _home_widgets[:] = [existing for existing in _home_widgets if existing not in _replaced_home_widgets]
    if provider not in _home_widgets and provider not in _replaced_home_widgets:
        _home_widgets.append(provider)


def home_widgets(*, request, tenant) -> list[Panel]:
    panels = [provider(request=request, tenant=tenant) for provider in _home_widgets]
    return sorted((panel for panel in panels if panel is not None), key=lambda panel: panel.order)


_personal_data_sections: list[Callable[..., dict]] = []


def register_personal_data_section(provider: Callable[..., dict]) -> None:
    if provider not in _personal_data_sections:
        _personal_data_sections.append(provider)


def personal_data_sections(*, tenant, customer_id: int) -> dict:
    """Every registered app's part of one customer's personal-data export (PIPL)."""
    data: dict = {}
    for provider in _personal_data_sections:
        data.update(provider(tenant=tenant, customer_id=customer_id))
    return data


# --------------------------------------------------------------------------- customer visibility and merge
# Who may see a customer is decided in ``customers.visibility``; the apps that put staff on a
# customer's work (projects, aftercare, sales) tell it who is "on" the customer, and the merge tool
# asks every app to move its rows from the merged customer to the survivor.

_involvement_providers: list[Callable[..., Q]] = []
_merge_handlers: list[tuple[Callable[..., dict], Callable[..., None] | None]] = []


def register_customer_involvement(provider: Callable[..., Q]) -> None:
    """``provider(*, user) -> Q`` over ``customers.Customer``: customers ``user`` works on."""
    if provider not in _involvement_providers:
        _involvement_providers.append(provider)


def customer_involvement_providers() -> list[Callable[..., Q]]:
    return list(_involvement_providers)


def register_customer_merge_handler(
    handler: Callable[..., dict], *, undo: Callable[..., None] | None = None
) -> None:
    """``handler(*, tenant, source, target, actor, merge) -> dict``: move the app's rows of customer
    ``source`` to ``target`` inside the merge transaction (raise ValidationError to refuse) and
    return a JSON record of what it did, kept in the merge's audit record (``merge.moved``).
    By convention ``{"moved": {"app_label.Model.field": [ids]}}``: rows listed there are moved
    back by the default undo; ``undo(*, tenant, source, target, actor, merge, record)`` reverses
    anything else (ledger transfers, copied history)."""
    if all(existing is not handler for existing, _undo in _merge_handlers):
        _merge_handlers.append((handler, undo))


def customer_merge_handlers() -> list[tuple[Callable[..., dict], Callable[..., None] | None]]:
    """``(handler, undo)`` pairs in registration (app) order; undo runs them in reverse."""
    return list(_merge_handlers)


_row_narrowers: list[Callable[..., object]] = []


def register_row_narrower(narrower: Callable[..., object]) -> None:
    """``narrower(queryset, *, user) -> queryset``: applied by the API base viewset to every queryset,
    so a rule about who sees which rows (customers' visibility) covers every app's routes at once."""
    if narrower not in _row_narrowers:
        _row_narrowers.append(narrower)


def narrow_rows_for_user(queryset, *, user):
    for narrower in _row_narrowers:
        queryset = narrower(queryset, user=user)
    return queryset


# --------------------------------------------------------------------------- lead scores
# ``engagement`` scores leads; the lead API and inbox (``customers``) show and sort by the score
# without importing it. Without a provider leads simply have no score.


@dataclass(frozen=True)
class LeadScoreProvider:
    scores: Callable[..., dict]  # ``fn(*, tenant, lead_ids) -> {lead_id: {"score", "method", "factors"}}``
    order_by_score: Callable  # ``fn(queryset) -> queryset`` of leads, best score first


_lead_score_provider: list[LeadScoreProvider] = []


def register_lead_scores(provider: LeadScoreProvider) -> None:
    _lead_score_provider[:] = [provider]


def lead_scores(*, tenant, lead_ids: list[int]) -> dict:
    return _lead_score_provider[0].scores(tenant=tenant, lead_ids=lead_ids) if _lead_score_provider else {}


def order_leads_by_score(queryset):
    return _lead_score_provider[0].order_by_score(queryset) if _lead_score_provider else queryset


# --------------------------------------------------------------------------- public lead intake
# Extra intake fields owned by later apps (engagement: ``campaign_code``, ``marketing_consent``).
# ``validate`` runs before anything is written (raise ValidationError: 400, nothing written);
# ``apply`` runs in the intake's transaction once the lead exists.


@dataclass(frozen=True)
class IntakeExtension:
    validate: Callable[..., None]  # ``fn(*, tenant, data) -> None``
    apply: Callable[..., None]  # ``fn(*, tenant, lead, data) -> None``


_intake_extensions: list[IntakeExtension] = []


def register_intake_extension(extension: IntakeExtension) -> None:
    if extension not in _intake_extensions:
        _intake_extensions.append(extension)


def intake_extensions() -> list[IntakeExtension]:
    return list(_intake_extensions)
