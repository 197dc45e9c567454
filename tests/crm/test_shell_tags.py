"""``{% nav_menu %}`` and ``{% language_options %}`` write what base.html's loops wrote (the reference)."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import translation

from crm.context_processors import navigation_for
from crm.models import Role

pytestmark = pytest.mark.django_db

NAV_LOOP = Template(
    "{% load i18n %}{% for item in nav_items %}\n"
    '        <li><a href="{{ item.url }}"{% if item.active %} aria-current="page"{% endif %}>'
    "{% trans item.label %}</a></li>\n"
    "      {% endfor %}"
)
LANGUAGE_LOOP = Template(
    "{% load i18n %}{% get_current_language as LANGUAGE_CODE %}"
    "{% get_available_languages as LANGUAGES %}{% get_language_info_list for LANGUAGES as languages %}\n"
    "            {% for language in languages %}\n"
    '              <option value="{{ language.code }}" lang="{{ language.code }}"'
    "{% if language.code == LANGUAGE_CODE %} selected{% endif %}>{{ language.name_local }}</option>\n"
    "            {% endfor %}"
)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("role", [Role.MANAGER, Role.SALES, Role.DESIGNER])
@pytest.mark.parametrize("path", ["/customers/", "/customers/leads/", "/"])
def test_nav_menu_equals_the_loop(tenant_a, make_staff, language, role, path):
    request = RequestFactory().get(path)
    request.user = make_staff(tenant_a, role)
    with translation.override(language):
        items = navigation_for(request)
        assert items and navigation_for(request) == items  # the second from the process's copy
        expected = NAV_LOOP.render(Context({"nav_items": items}))
        rendered = Template("{% load shell %}{% nav_menu nav_items %}").render(Context({"nav_items": items}))
    assert rendered == expected
    assert ('aria-current="page"' in rendered) == (path != "/")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_language_options_equal_the_loop(language):
    with translation.override(language):
        expected = LANGUAGE_LOOP.render(Context({}))
        rendered = Template(
            "{% load i18n shell %}{% get_current_language as LANGUAGE_CODE %}"
            "{% language_options LANGUAGE_CODE %}"
        ).render(Context({}))
    assert rendered == expected and rendered.count(" selected") == 1


def test_navigation_follows_a_role_change(tenant_a, make_staff):
    request = RequestFactory().get("/")
    request.user = make_staff(tenant_a, Role.SALES)
    assert not any(item["url"].startswith("/integrations/") for item in navigation_for(request))
    request.user.roles = [Role.MANAGER]
    assert any(item["url"].startswith("/integrations/") for item in navigation_for(request))
