"""Cross-app imports are direct: a renamed service must fail loudly at import, not silently skip work."""

from __future__ import annotations

import ast
import pathlib

import pytest

DOMAIN_APPS = ("customers", "projects", "aftercare", "referrals")


def _swallowed_imports(path: pathlib.Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Try):
            continue
        imports = any(isinstance(child, ast.Import | ast.ImportFrom) for child in node.body)
        for handler in node.handlers:
            names = ast.unparse(handler.type) if handler.type is not None else "everything"
            swallows = names == "everything" or "ImportError" in names or "ModuleNotFoundError" in names
            if imports and swallows:
                found.append(f"{path.name}:{node.lineno}")
    return found


@pytest.mark.parametrize("app", DOMAIN_APPS)
def test_no_import_is_wrapped_in_try_except_import_error(app):
    root = pathlib.Path(__file__).resolve().parents[2] / app
    offenders = [hit for path in sorted(root.rglob("*.py")) for hit in _swallowed_imports(path)]
    assert offenders == []


def test_referrals_use_the_customers_service_and_sms_directly():
    from crm.notifications import services as notification_services
    from customers.services import customers as customer_records
    from referrals import handlers
    from referrals.services import _common

    assert _common.customer_apply_referral_facts is customer_records.customer_apply_referral_facts
    assert handlers.sms_send is notification_services.sms_send
