from decimal import Decimal

import pytest

from crm.money import (
    MoneyError,
    YuanFormField,
    fen_share,
    fen_times,
    fen_to_yuan,
    format_fen,
    parse_yuan,
    split_fen,
)
from crm.templatetags.crm_ui import fen, signed_fen


@pytest.mark.parametrize(
    ("typed", "fen_value"),
    [("12.35", 1235), ("1,234.5", 123450), ("¥0.01", 1), (12, 1200), (Decimal("186000"), 18_600_000)],
)
def test_parse_yuan_is_exact(typed, fen_value):
    assert parse_yuan(typed) == fen_value


@pytest.mark.parametrize("typed", ["12.345", "abc", "", "NaN", "Infinity", "-1", "1e15", 1.5])
def test_parse_yuan_refuses_what_is_not_exact_money(typed):
    with pytest.raises(MoneyError):
        parse_yuan(typed)


def test_negative_only_when_asked():
    assert parse_yuan("-1200", allow_negative=True) == -120_000


def test_change_order_example_from_the_issue_is_exact_to_the_fen():
    # 12.35 × 88 and −1,200 on a ¥186,000 budget: ¥185,886.80, not ¥185,887.
    refund = parse_yuan("-1200", allow_negative=True)
    total = parse_yuan("186000") + fen_times(parse_yuan("12.35"), 88) + refund
    assert total == 18_588_680
    assert format_fen(total) == "¥185,886.80"


def test_line_total_rounds_once_half_up():
    assert fen_times(333, Decimal("1.5")) == 500  # 499.5 → 500
    assert fen_times(1999, "2.333") == 4664  # 4663.667 → 4664


def test_split_adds_up_to_the_total():
    parts = split_fen(10_001, [3000, 4000, 3000])
    assert parts == [3000, 4000, 3001] and sum(parts) == 10_001
    assert fen_share(10_001, 3000) == 3000
    with pytest.raises(MoneyError):
        split_fen(100, [5000, 4000])


def test_display_helpers():
    assert fen_to_yuan(1235) == Decimal("12.35")
    assert format_fen(-50) == "-¥0.50" and format_fen(None) == "—"
    assert fen(123456) == "¥1,234.56" and fen("x") == "—"
    assert signed_fen(100) == "+¥1.00" and signed_fen(-100) == "-¥1.00"


def test_form_field_takes_yuan_and_cleans_to_fen():
    field = YuanFormField(required=False)
    assert field.clean("88.8") == 8880
    assert field.clean("") is None
    assert field.prepare_value(8880) == "88.80"
    with pytest.raises(Exception) as info:
        field.clean("1.001")
    assert "两位小数" in str(info.value)
