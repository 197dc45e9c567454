"""One money representation: nothing outside ``crm/money.py`` converts yuan and fen by hand.

Money is integer fen everywhere; ``crm.money`` parses what people type (``parse_yuan``,
``YuanFormField``) and formats what they read (``format_fen``, the ``fen``/``signed_fen``/``fen_input``
filters). An inline ``/ 100``, ``// 100`` or ``* 100`` next to a money name is how yuan and fen got
mixed before (a contract in yuan multiplied by 100 in the ledger, a credit divided by 100 in the
customer's value), so application code and templates are searched for it.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
# Every app (a top-level folder with an apps.py, so new apps are covered too) and the templates.
APP_DIRS = (*sorted(path.parent.name for path in ROOT.glob("*/apps.py")), "templates")
# The helpers themselves, and the one data migration step that moves stored yuan to fen.
ALLOWED = {Path("crm/money.py"), Path("crm/migration_ops.py")}

MONEY_NAME = re.compile(r"fen|yuan|amount|budget|price|cost|spend|balance|contract|money|元|¥", re.IGNORECASE)
SCALE_BY_100 = re.compile(
    r"(?://|/|\*)\s*100(?![\d._])"  # x / 100, x // 100, x * 100
    r"|(?<![\d._])100\s*\*(?!\*)"  # 100 * x
    r"|widthratio\s+\S+\s+100\s+1\b"  # {% widthratio x 100 1 %}
    r"|FEN_PER_YUAN"
)


def money_conversions(text: str) -> list[str]:
    return [
        line.strip()
        for line in text.splitlines()
        if SCALE_BY_100.search(line) and MONEY_NAME.search(line) and not line.lstrip().startswith("#")
    ]


def test_the_guard_recognises_the_conversions_it_replaced():
    replaced = [
        "contract_fen = int(contract_amount_yuan or 0) * 100",
        "customer.value_amount = customer.contract_total + customer.referral_credit_total // 100",
        'description = f"合同取消，冲回奖励 ¥{credit.amount_fen / 100:,.2f}"',
        "<td>¥{% widthratio f.spend_fen 100 1 %}</td>",
        "return int(amount * 100) if amount is not None else 0",
        'kpi("credit_paid", _("期内奖励金额（元）"), round(credit_fen / 100), kind="money")',
    ]
    assert [money_conversions(line) for line in replaced] == [[line] for line in replaced]
    fine = [
        'return f"{value * 100:.1f}%"',  # a ratio as a percentage
        "percentage_bp=int(percentage * 100)",  # percent → basis points
        "amount = int(contract_amount_fen or 0) * int(rule.percentage_bp) // 10_000",
        "budget_fen = parse_yuan(text)",
    ]
    assert [money_conversions(line) for line in fine] == [[] for _ in fine]


def test_no_inline_yuan_fen_conversion_in_application_code():
    found = []
    for folder in APP_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            relative = path.relative_to(ROOT)
            if path.suffix not in (".py", ".html", ".txt", ".js") or "migrations" in relative.parts:
                continue
            if relative in ALLOWED or "static" in relative.parts:
                continue
            found += [f"{relative}: {line}" for line in money_conversions(path.read_text(encoding="utf-8"))]
    hint = "convert money with crm.money (parse_yuan / format_fen / |fen), not inline:\n"
    assert found == [], hint + "\n".join(found)
