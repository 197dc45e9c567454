"""Money actions ask first: every page form that redeems or adjusts referral credit, cancels a
contract or merges customers carries ``data-confirm`` (crm.js asks before submitting; no inline
script, so it works under the CSP)."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
MONEY_ACTIONS = re.compile(r"^(referrals:(redeem|adjust)|projects:cancel|customers:[\w-]*merge[\w-]*)$")
FORM = re.compile(r"<form\b[^>]*>", re.S)
ACTION = re.compile(r"""action="\{% url ['"]([\w:-]+)['"]""")


def _money_forms() -> list[tuple[str, str, str]]:
    found = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        for tag in FORM.findall(template.read_text(encoding="utf-8")):
            action = ACTION.search(tag)
            posts = re.search(r"""method=["']post["']""", tag, re.IGNORECASE)
            if posts and action and MONEY_ACTIONS.match(action.group(1)):
                found.append((str(template.relative_to(ROOT)), action.group(1), tag))
    return found


def test_every_money_form_asks_for_confirmation():
    forms = _money_forms()
    names = {name for _, name, _ in forms}
    assert names >= {"referrals:redeem", "referrals:adjust", "projects:cancel", "customers:merge"}
    unconfirmed = [f"{path}: {name}" for path, name, tag in forms if "data-confirm=" not in tag]
    assert not unconfirmed, unconfirmed


def test_the_confirmation_runs_from_the_static_script():
    script = (ROOT / "static" / "js" / "crm.js").read_text(encoding="utf-8")
    assert 'form.matches("form[data-confirm]") && !window.confirm(form.dataset.confirm)' in script
