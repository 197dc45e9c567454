"""The price catalogue: items, packages per m², and the all-or-nothing Excel import."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

import openpyxl
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from crm.money import MoneyError, parse_yuan
from crm.permissions import require_permission
from crm.validators import MONEY_MAX, validate_no_control_characters
from quotes.models import CatalogueItem, ItemCategory, Package, PackageItem, QuoteSettings
from quotes.services._common import error, quote_settings

IMPORT_COLUMNS = [
    ("名称", "name"),
    ("规格", "spec"),
    ("单位", "unit"),
    ("单价（元）", "unit_price"),
    ("类别", "category"),
    ("启用", "active"),
]
MAX_IMPORT_ROWS = 2000
MAX_IMPORT_BYTES = 5 * 1024 * 1024
ITEM_TEXT_LIMITS = {"name": 100, "spec": 100, "unit": 20}


def _clean_text(field: str, value: str, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise error(field, _("此项必填。"), "required")
    if len(value) > ITEM_TEXT_LIMITS[field]:
        raise error(field, _("最多 %(n)s 个字符。") % {"n": ITEM_TEXT_LIMITS[field]}, "too_long")
    try:
        validate_no_control_characters(value)
    except ValidationError:
        raise error(field, _("不能包含控制字符。"), "control_characters") from None
    return value


def _check_price(field: str, fen: int) -> int:
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise error(field, _("单价须为整数（分）。"), "invalid_money")
    if fen < 0:
        raise error(field, _("金额不能为负数"), "negative_money")
    if fen > MONEY_MAX:
        raise error(field, _("金额过大"), "money_too_large")
    return fen


def _check_category(category: str) -> str:
    if category not in ItemCategory.values:
        raise error("category", _("类别须为主材、辅材、人工、管理费或设计费。"), "invalid_category")
    return category


def _check_unique_item(*, name: str, spec: str, exclude_pk: int | None = None) -> None:
    if CatalogueItem.objects.filter(name=name, spec=spec).exclude(pk=exclude_pk).exists():
        raise error("name", _("已有同名同规格的项目。"), "duplicate_item")


@transaction.atomic
def item_create(
    *,
    tenant: Tenant,
    actor: User,
    name: str,
    unit: str,
    unit_price_fen: int,
    category: str,
    spec: str = "",
    active: bool = True,
) -> CatalogueItem:
    require_permission(actor, "quotes.manage_catalogue")
    name = _clean_text("name", name, required=True)
    spec = _clean_text("spec", spec, required=False)
    unit = _clean_text("unit", unit, required=True)
    _check_unique_item(name=name, spec=spec)
    return CatalogueItem.objects.create(
        tenant=tenant,
        name=name,
        spec=spec,
        unit=unit,
        unit_price_fen=_check_price("unit_price_fen", unit_price_fen),
        category=_check_category(category),
        active=active,
    )


@transaction.atomic
def item_update(*, tenant: Tenant, actor: User, item: CatalogueItem, **changes: object) -> CatalogueItem:
    """Change an item; quotations already written keep their snapshot of the old price."""
    require_permission(actor, "quotes.manage_catalogue")
    item = CatalogueItem.objects.select_for_update().get(pk=item.pk)
    for field in ("name", "spec", "unit"):
        if field in changes:
            setattr(item, field, _clean_text(field, str(changes[field] or ""), required=field != "spec"))
    if "unit_price_fen" in changes:
        item.unit_price_fen = _check_price("unit_price_fen", changes["unit_price_fen"])  # type: ignore[arg-type]
    if "category" in changes:
        item.category = _check_category(str(changes["category"]))
    if "active" in changes:
        item.active = bool(changes["active"])
    _check_unique_item(name=item.name, spec=item.spec, exclude_pk=item.pk)
    item.save()
    return item


def _package_fields(
    *, name: str, price_per_sqm_fen: int, includes: str, exclude_pk: int | None = None
) -> tuple[str, int, str]:
    name = (name or "").strip()
    if not name:
        raise error("name", _("此项必填。"), "required")
    if len(name) > 100:
        raise error("name", _("最多 %(n)s 个字符。") % {"n": 100}, "too_long")
    if len(includes or "") > 2000:
        raise error("includes", _("最多 %(n)s 个字符。") % {"n": 2000}, "too_long")
    if Package.objects.filter(name=name).exclude(pk=exclude_pk).exists():
        raise error("name", _("已有同名套餐。"), "duplicate_package")
    return name, _check_price("price_per_sqm_fen", price_per_sqm_fen), (includes or "").strip()


def _set_package_items(*, tenant: Tenant, package: Package, items: Iterable[CatalogueItem]) -> None:
    PackageItem.objects.filter(package=package).delete()
    PackageItem.objects.bulk_create(
        [PackageItem(tenant=tenant, package=package, item=item) for item in {i.pk: i for i in items}.values()]
    )


@transaction.atomic
def package_create(
    *,
    tenant: Tenant,
    actor: User,
    name: str,
    price_per_sqm_fen: int,
    includes: str = "",
    items: Iterable[CatalogueItem] = (),
    active: bool = True,
) -> Package:
    require_permission(actor, "quotes.manage_catalogue")
    name, price, includes = _package_fields(name=name, price_per_sqm_fen=price_per_sqm_fen, includes=includes)
    package = Package.objects.create(
        tenant=tenant, name=name, price_per_sqm_fen=price, includes=includes, active=active
    )
    _set_package_items(tenant=tenant, package=package, items=items)
    return package


@transaction.atomic
def package_update(
    *,
    tenant: Tenant,
    actor: User,
    package: Package,
    name: str,
    price_per_sqm_fen: int,
    includes: str = "",
    items: Iterable[CatalogueItem] | None = None,
    active: bool = True,
) -> Package:
    require_permission(actor, "quotes.manage_catalogue")
    package = Package.objects.select_for_update().get(pk=package.pk)
    package.name, package.price_per_sqm_fen, package.includes = _package_fields(
        name=name, price_per_sqm_fen=price_per_sqm_fen, includes=includes, exclude_pk=package.pk
    )
    package.active = active
    package.save()
    if items is not None:
        _set_package_items(tenant=tenant, package=package, items=items)
    return package


@transaction.atomic
def quote_settings_update(*, tenant: Tenant, actor: User, approval_threshold_bp: int) -> QuoteSettings:
    """A discount above ``approval_threshold_bp`` of the subtotal needs a manager (0 = every discount)."""
    require_permission(actor, "quotes.approve_discount")
    if isinstance(approval_threshold_bp, bool) or not isinstance(approval_threshold_bp, int):
        raise error("approval_threshold_bp", _("请填写 0–10000 之间的整数。"), "invalid")
    if not 0 <= approval_threshold_bp <= 10_000:
        raise error("approval_threshold_bp", _("请填写 0–10000 之间的整数。"), "out_of_range")
    settings = quote_settings(tenant=tenant, lock=True)
    settings.approval_threshold_bp = approval_threshold_bp
    settings.save(update_fields=["approval_threshold_bp"])
    return settings


# --------------------------------------------------------------------------- Excel import


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


class CatalogueImportRejected(ValidationError):
    """The file had bad rows; nothing was written. ``rows`` is the per-row report."""

    def __init__(self, rows: list[dict]) -> None:
        messages = [
            ValidationError(
                _("第 %(row)s 行 %(column)s：%(message)s")
                % {"row": row["row"], "column": row["column"], "message": row["message"]},
                code="invalid_row",
            )
            for row in rows
        ]
        super().__init__({"file": messages})
        self.rows = rows


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest round-trip: 12.35 stays "12.35", never 12.3499999
    return str(value).strip()


def read_catalogue_rows(upload: IO[bytes]) -> list[tuple[int, dict[str, str]]]:
    """``(row number, {field: text})`` from an .xlsx upload, refused whole if unreadable."""
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_IMPORT_BYTES:
        raise error("file", _("文件过大（最多 5 MB）。"), "file_too_large")
    name = (getattr(upload, "name", "") or "").lower()
    if name and not name.endswith(".xlsx"):
        raise error("file", _("只支持 .xlsx 文件。"), "unsupported_file")
    try:
        workbook = openpyxl.load_workbook(upload, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        raw = [list(row) for row in sheet.iter_rows(values_only=True, max_row=MAX_IMPORT_ROWS + 2)]
    except Exception:  # openpyxl raises many kinds on a broken or foreign file
        raise error("file", _("无法读取 Excel 文件。"), "unreadable_file") from None
    raw = [row for row in raw if any(cell not in (None, "") for cell in row)]
    if not raw:
        raise error("file", _("文件是空的。"), "empty_file")
    if len(raw) - 1 > MAX_IMPORT_ROWS:
        raise error("file", _("一次最多导入 %(n)s 行。") % {"n": MAX_IMPORT_ROWS}, "too_many_rows")
    by_header = dict(IMPORT_COLUMNS) | {f: f for _h, f in IMPORT_COLUMNS}
    fields = [by_header.get(_cell_text(cell)) for cell in raw[0]]
    missing = [header for header, field in IMPORT_COLUMNS[:5] if field not in fields]
    if missing:
        raise error("file", _("表头缺少：%(columns)s") % {"columns": "、".join(missing)}, "missing_columns")
    rows = []
    for number, row in enumerate(raw[1:], start=2):
        rows.append(
            (number, {field: _cell_text(row[i]) for i, field in enumerate(fields) if field and i < len(row)})
        )
    return rows


_CATEGORY_BY_LABEL = {str(label): value for value, label in ItemCategory.choices} | {
    value: value for value in ItemCategory.values
}
_HEADER_OF = {field: header for header, field in IMPORT_COLUMNS}


def _row_values(row: dict[str, str]) -> dict:
    values: dict = {}
    for field in ("name", "spec", "unit"):
        values[field] = _clean_text(field, row.get(field, ""), required=field != "spec")
    try:
        values["unit_price_fen"] = parse_yuan(row.get("unit_price", ""))
    except MoneyError as exc:
        raise error("unit_price", str(exc), "invalid_money") from None
    except ArithmeticError:  # e.g. 1e999999: too large to check to the fen
        raise error("unit_price", _("金额过大"), "money_too_large") from None
    category = _CATEGORY_BY_LABEL.get(row.get("category", "").strip())
    if category is None:
        raise error("category", _("类别须为主材、辅材、人工、管理费或设计费。"), "invalid_category")
    values["category"] = category
    active = row.get("active", "").strip().lower()
    if active in ("", "是", "1", "true", "yes", "y", "启用"):
        values["active"] = True
    elif active in ("否", "0", "false", "no", "n", "停用"):
        values["active"] = False
    else:
        raise error("active", _("启用须填“是”或“否”。"), "invalid_flag")
    return values


def catalogue_import(*, tenant: Tenant, actor: User, upload: IO[bytes]) -> ImportResult:
    """All or nothing: every row is checked first; one bad row and nothing is written.

    A row with a known name + spec updates that item (price, unit, category, active); others are new.
    """
    require_permission(actor, "quotes.manage_catalogue")
    rows = read_catalogue_rows(upload)
    problems: list[dict] = []
    parsed: list[dict] = []
    seen: dict[tuple[str, str], int] = {}
    for number, row in rows:
        try:
            values = _row_values(row)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    problems.append(
                        {"row": number, "column": _HEADER_OF.get(field, field), "message": message}
                    )
            continue
        key = (values["name"], values["spec"])
        if key in seen:
            problems.append(
                {
                    "row": number,
                    "column": _HEADER_OF["name"],
                    "message": _("与第 %(row)s 行重复。") % {"row": seen[key]},
                }
            )
            continue
        seen[key] = number
        parsed.append(values)
    if problems:
        raise CatalogueImportRejected(problems)
    created = updated = 0
    with transaction.atomic():
        existing = {(item.name, item.spec): item for item in CatalogueItem.objects.select_for_update()}
        for values in parsed:
            item = existing.get((values["name"], values["spec"]))
            if item is None:
                CatalogueItem.objects.create(tenant=tenant, **values)
                created += 1
                continue
            for field in ("unit", "unit_price_fen", "category", "active"):
                setattr(item, field, values[field])
            item.save()
            updated += 1
    return ImportResult(created=created, updated=updated)
