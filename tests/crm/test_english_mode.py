"""English mode shows no Chinese that the UI itself wrote (issue 10 §7).

Staff who pick English with the language switch (cookie) get every page in English. The test
crawls every page a manager and a sales user can reach — every argument-free page route plus every
link found on the pages, so detail pages and tabs of objects of every model are included — and
fails on any CJK character outside user data and the language names. User data is whatever the
tenant has stored (names, notes, system reasons): it is taken out of the page before the check, so
any CJK left must come from a template or from Python.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urldefrag, urlparse

import pytest
from django.apps import apps
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver

from crm.models import Role, Tenant
from crm.tenancy import platform_scope, tenant_context
from tests.factories import StaffFactory, TenantFactory, load_all_probe_factories

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")
LANGUAGE_NAMES = ("简体中文",)
SKIP_PREFIXES = ("/api/", "/admin/", "/media/", "/i18n/", "/accounts/logout/", "/static/")
MAX_PAGES = 400


def _page_routes() -> list[str]:
    """Every argument-free browser route (the nav and the settings pages among them)."""

    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern)

    return [
        "/" + route
        for route in walk(get_resolver().url_patterns)
        if "<" not in route
        and "(" not in route
        and "^" not in route
        and "$" not in route
        and not ("/" + route).startswith(SKIP_PREFIXES)
    ]


def _stored_texts(tenant: Tenant) -> list[str]:
    """Every CJK-bearing text stored for the tenant: user data, left out of the check."""
    found: set[str] = set()
    with platform_scope("english-mode test collects stored data"):
        for model in apps.get_models():
            text_fields = [
                f.attname
                for f in model._meta.concrete_fields
                if isinstance(f, models.CharField | models.TextField | models.JSONField)
            ]
            if not text_fields:
                continue
            rows = model._default_manager.all()
            if any(f.name == "tenant" for f in model._meta.concrete_fields):
                rows = rows.filter(tenant=tenant)
            for values in rows.values_list(*text_fields):
                for value in values:
                    for text in _strings(value):
                        if CJK.search(text):
                            found.add(text)
    # longest first, so a value containing another is removed whole
    return sorted(found, key=len, reverse=True)


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value, *value.splitlines()]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _ui_cjk(body: str, stored: list[str]) -> list[str]:
    text = html.unescape(body)
    for value in stored:
        text = text.replace(value, " ")
    for name in LANGUAGE_NAMES:
        text = text.replace(name, " ")
    return [text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ") for m in CJK.finditer(text)]


def _links(body: str) -> list[str]:
    urls = []
    for href in re.findall(r'href="([^"]+)"', body):
        url = urldefrag(html.unescape(href)).url
        parsed = urlparse(url)
        if parsed.scheme or parsed.netloc or not url.startswith("/") or url.startswith(SKIP_PREFIXES):
            continue
        urls.append(url)
    return urls


@pytest.fixture
def seeded_tenant(db) -> Tenant:
    """A tenant with one object of every tenant-owned model (the probe registry's factories)."""
    tenant = TenantFactory(name="Acme Renovation", slug="acme")
    factories = load_all_probe_factories()
    with tenant_context(tenant):
        for factory in factories.values():
            factory(tenant)
    return tenant


def _crawl(client) -> tuple[dict[str, list[str]], int]:
    stored = None
    queue = _page_routes()
    seen: set[str] = set(queue)
    failures: dict[str, list[str]] = {}
    visited = 0
    while queue and visited < MAX_PAGES:
        url = queue.pop(0)
        response = client.get(url)
        visited += 1
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        body = response.content.decode()
        if stored is None:
            stored = _stored_texts(response.wsgi_request.user.tenant)
        problems = _ui_cjk(body, stored)
        if problems:
            failures[url] = problems[:5]
        for link in _links(body):
            key = re.sub(r"\d+", "N", link)  # one page per route shape (and query shape)
            if key not in seen and link not in seen:
                seen.add(key)
                seen.add(link)
                queue.append(link)
    return failures, visited


@pytest.mark.parametrize("roles", [[Role.MANAGER], [Role.SALES]], ids=["manager", "sales"])
def test_every_page_in_english_has_no_chinese_ui_text(seeded_tenant, client, roles):
    user = StaffFactory(tenant=seeded_tenant, roles=roles, username="eve", display_name="Eve")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    client.cookies["crm_language"] = "en"

    failures, visited = _crawl(client)

    assert visited > 30, f"only {visited} pages were reachable"
    assert not failures, "Chinese UI text in English mode:\n" + "\n".join(
        f"{url}: {snippets}" for url, snippets in failures.items()
    )


def test_language_switch_names_each_language_in_its_own_name(seeded_tenant, client):
    user = StaffFactory(tenant=seeded_tenant, roles=[Role.MANAGER])
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    for language in ("zh-hans", "en"):
        client.cookies["crm_language"] = language
        body = client.get("/customers/").content.decode()
        assert ">简体中文</option>" in body
        assert ">English</option>" in body
        assert "英语" not in body


@pytest.mark.parametrize(
    ("url", "payload", "field", "english"),
    [
        ("/api/v1/customers/", {"name": "Ann", "phone": "12"}, "phone", "valid mainland China mobile"),
        ("/api/v1/customers/", {"name": "", "phone": "13812345678"}, "name", "name"),
    ],
)
def test_api_service_errors_follow_the_language_cookie(
    seeded_tenant, token_client, url, payload, field, english
):
    user = StaffFactory(tenant=seeded_tenant, roles=[Role.MANAGER])
    api = token_client(user)
    api.cookies["crm_language"] = "en"
    response = api.post(url, payload, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400, response.content
    message = str(response.json())
    assert english.lower() in message.lower(), message
    assert not CJK.search(message), message
