"""Phone shell pieces that need no browser: ISO date widgets in every language, tap-to-call links
only for full numbers, languages named in their own language, the favicon."""

from __future__ import annotations

import datetime

import pytest
from django import forms
from django.utils import translation

from crm.templatetags.crm_ui import contact_buttons, tel_link


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_date_inputs_render_iso_values_whatever_the_language(language):
    from projects.forms import DailyLogForm

    class Plain(forms.Form):  # a default DateInput/DateTimeInput, as any app form might declare
        day = forms.DateField()
        moment = forms.DateTimeField()

    with translation.override(language):
        log = str(DailyLogForm(initial={"log_date": datetime.date(2026, 11, 30)})["log_date"])
        plain = Plain(
            initial={"day": datetime.date(2026, 11, 30), "moment": datetime.datetime(2026, 11, 30, 9, 5)}
        )
        day, moment = str(plain["day"]), str(plain["moment"])
    assert 'type="date"' in log and 'value="2026-11-30"' in log
    assert 'value="2026-11-30"' in day
    assert 'value="2026-11-30 09:05' in moment


def test_tel_links_only_for_full_numbers():
    assert 'href="tel:+8613812345678"' in tel_link("13812345678")
    assert "href" not in tel_link("138****5678")
    assert "href" not in tel_link("—")
    assert contact_buttons("138****5678", "wx_abc") == ""  # a masked viewer copies nothing either
    buttons = contact_buttons("13812345678", "wx_abc")
    assert 'href="tel:+8613812345678"' in buttons and 'data-copy="wx_abc"' in buttons


def test_language_switch_names_languages_in_their_own_names_and_favicon(client, manager_a):
    client.force_login(manager_a)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/").content.decode()
    assert "简体中文" in page and "English" in page
    assert 'rel="icon"' in page
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("favicon.svg")
