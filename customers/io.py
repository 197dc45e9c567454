"""CSV / Excel import and export of customers (file formats only; the rules live in services)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from typing import Any

import openpyxl
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from openpyxl.cell import WriteOnlyCell

from crm.models import Tenant, User
from crm.money import MoneyError, fen_to_yuan, parse_yuan
from crm.validators import strip_control_characters, validate_no_control_characters
from customers.models import AuditAction, Customer, CustomerType, SourceChannel, Style
from customers.services import privacy
from customers.services.customers import customer_create, normalize_phone

# Column header (Chinese, as exported) -> field. English field names are accepted too.
COLUMNS = [
    ("姓名", "name"),
    ("手机号", "phone"),
    ("邮箱", "email"),
    ("微信号", "wechat_id"),
    ("来源渠道", "source_channel"),
    ("客户类型", "customer_type"),
    ("城市", "city"),
    ("区县", "district"),
    ("小区", "community"),
    ("户型", "layout"),
    ("面积", "area_sqm"),
    ("预算（元）", "budget_fen"),
    ("风格偏好", "style_preferences"),
    ("标签", "tags"),
]
EXPORT_EXTRA = [
    ("预算档位", "budget_tier"),
    ("意向", "intent"),
    ("跟进状态", "follow_up_status"),
    ("生命周期", "lifecycle"),
    ("忠诚度", "loyalty"),
    ("活跃度", "activity"),
    ("价值等级", "value_tier"),
    ("负责销售", "owner"),
    ("创建时间", "created_at"),
]
MAX_IMPORT_ROWS = 5000
# Headers of files exported before amounts said their unit (the budget was whole yuan then too).
HEADER_ALIASES = {
    "预算": "budget_fen",
    "电子邮箱": "email",
    "邮件": "email",
    "Email": "email",
    "E-mail": "email",
}
MONEY_FIELDS = {"budget_fen"}


def _label_map(choices) -> dict[str, str]:
    mapping = {}
    for value, label in choices:
        mapping[str(value)] = value
        mapping[str(label)] = value
    return mapping


def read_rows(uploaded) -> list[dict]:
    """Rows as ``{field: text}`` from a CSV (UTF-8, with or without BOM) or .xlsx upload."""
    name = (getattr(uploaded, "name", "") or "").lower()
    header_to_field = dict(COLUMNS) | {field: field for _h, field in COLUMNS} | HEADER_ALIASES
    if name.endswith(".xlsx"):
        try:
            workbook = openpyxl.load_workbook(uploaded, read_only=True, data_only=True)
        except Exception:
            raise ValidationError({"file": "无法读取 Excel 文件。"})
        raw_rows = [
            ["" if cell is None else str(cell).strip() for cell in row]
            for row in workbook.active.iter_rows(values_only=True)
        ]
    elif name.endswith(".csv"):
        try:
            text = uploaded.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError({"file": "CSV 文件必须是 UTF-8 编码。"})
        raw_rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text))]
    else:
        raise ValidationError({"file": "只支持 .csv 和 .xlsx 文件。"})
    raw_rows = [row for row in raw_rows if any(row)]
    if not raw_rows:
        raise ValidationError({"file": "文件是空的。"})
    headers = [header_to_field.get(header.strip()) for header in raw_rows[0]]
    if "name" not in headers or "phone" not in headers:
        raise ValidationError({"file": "表头必须包含“姓名”和“手机号”。"})
    if len(raw_rows) - 1 > MAX_IMPORT_ROWS:
        raise ValidationError({"file": f"一次最多导入 {MAX_IMPORT_ROWS} 行。"})
    return [
        {field: (row[index] if index < len(row) else "") for index, field in enumerate(headers) if field}
        for row in raw_rows[1:]
    ]


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace("，", ",").replace("、", ",").split(",") if part.strip()]


def _row_to_data(row: dict) -> dict:
    channels, types, styles = (
        _label_map(SourceChannel.choices),
        _label_map(CustomerType.choices),
        _label_map(Style.choices),
    )
    for field, value in row.items():
        try:
            validate_no_control_characters(value)
        except ValidationError as error:
            raise ValidationError({field: error.messages})
    data: dict = {"name": row.get("name", ""), "phone": row.get("phone", "")}
    for field in ("email", "wechat_id", "city", "district", "community", "layout"):
        if row.get(field):
            data[field] = row[field]
    if row.get("source_channel"):
        data["source_channel"] = channels.get(row["source_channel"], row["source_channel"])
    if row.get("customer_type"):
        data["customer_type"] = types.get(row["customer_type"], row["customer_type"])
    if row.get("style_preferences"):
        data["style_preferences"] = [styles.get(s, s) for s in _split(row["style_preferences"])]
    if row.get("tags"):
        data["tags"] = _split(row["tags"])
    if row.get("budget_fen"):
        try:  # the sheet says yuan; exact to the fen or the row is refused (never rounded)
            data["budget_fen"] = parse_yuan(row["budget_fen"])
        except MoneyError as error:
            raise ValidationError({"budget_fen": f"预算（元）：{error}"}) from None
    if row.get("area_sqm"):
        try:
            number = float(row["area_sqm"].replace(",", ""))
        except ValueError:
            raise ValidationError({"area_sqm": "面积必须是数字。"})
        if not math.isfinite(number):  # "nan"/"inf" parse as floats but are no amount
            raise ValidationError({"area_sqm": "面积必须是数字。"})
        data["area_sqm"] = round(number, 1)
    return data


class ImportRejected(Exception):
    """The file had invalid rows; nothing was imported. ``errors`` is the per-row report."""

    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} invalid rows")
        self.errors = errors


def customers_import(*, tenant: Tenant, user: User, rows: list[dict]) -> int:
    """All or nothing: every row is validated (inside a transaction that rolls back on any error)."""
    errors: list[dict] = []
    seen_phones: dict[str, int] = {}
    with transaction.atomic():
        for number, row in enumerate(rows, start=2):  # row 1 is the header
            try:
                data = _row_to_data(row)
                phone = normalize_phone(data["phone"])
                if phone in seen_phones:
                    raise ValidationError({"phone": f"与第 {seen_phones[phone]} 行手机号重复。"})
                seen_phones[phone] = number
                with transaction.atomic():
                    customer_create(tenant=tenant, created_by=None, **data)
            except ValidationError as error:
                for field, messages in error.message_dict.items():
                    errors.extend({"row": number, "field": field, "message": message} for message in messages)
        if errors:
            transaction.set_rollback(True)
        else:
            privacy.audit_log(tenant=tenant, actor=user, action=AuditAction.IMPORT, rows=len(rows))
    if errors:
        raise ImportRejected(errors)
    return len(rows)


def _export_value(customer: Customer, field: str):
    value = getattr(customer, field)
    if field in MONEY_FIELDS:  # files show yuan with two decimals (the header says 元)
        return "" if value is None else fen_to_yuan(value)
    if field in {
        "source_channel",
        "customer_type",
        "budget_tier",
        "intent",
        "follow_up_status",
        "lifecycle",
        "loyalty",
        "activity",
        "value_tier",
    }:
        return getattr(customer, f"get_{field}_display")()
    if field == "phone":
        return customer.phone.removeprefix("+86")
    if field == "style_preferences":
        labels = dict(Style.choices)
        return "、".join(str(labels.get(s, s)) for s in value)
    if field == "tags":
        return "、".join(value)
    if field == "owner":
        return str(value or "")
    if field == "created_at":
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return "" if value is None else value


def export_table(customers: Iterable[Customer]) -> tuple[list[str], list[list]]:
    columns = COLUMNS + EXPORT_EXTRA
    headers = [header for header, _field in columns]
    rows = [[_export_value(customer, field) for _header, field in columns] for customer in customers]
    return headers, rows


# Text starting with these is run as a formula by Excel/WPS; customer names come from public forms.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _is_formula_like(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def render_csv(headers: list[str], rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows([[f"'{value}" if _is_formula_like(value) else value for value in row] for row in rows])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _xlsx_cell(sheet, value, *, money: bool = False):
    if money and hasattr(value, "as_tuple"):  # yuan (Decimal): a number cell shown with two decimals
        cell = WriteOnlyCell(sheet, value=float(value))
        cell.number_format = "#,##0.00"
        return cell
    if hasattr(value, "as_tuple"):
        return float(value)
    if isinstance(value, str):
        value = strip_control_characters(value)  # rows saved before input was checked
    if _is_formula_like(value):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # openpyxl would store "=…" as a formula
        return cell
    return value


def render_xlsx(headers: list[str], rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("客户")
    sheet.append(headers)
    money = [header.endswith("（元）") for header in headers]
    for row in rows:
        sheet.append(
            [_xlsx_cell(sheet, value, money=is_money) for value, is_money in zip(row, money, strict=True)]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def customers_export(
    *, tenant: Tenant, user: User, queryset, file_format: str, filters: dict
) -> tuple[bytes | list[dict[str, Any]], str]:
    """Export the filtered list: rows as dicts for JSON, file bytes for CSV/Excel.

    Managers only; audit-logged with the filters and row count.
    """
    from crm.permissions import require_permission

    require_permission(user, "customers.export")
    customers = list(queryset.select_related("owner"))
    headers, rows = export_table(customers)
    privacy.audit_log(
        tenant=tenant,
        actor=user,
        action=AuditAction.EXPORT_LIST,
        rows=len(rows),
        format=file_format,
        filters=filters,
    )
    if file_format == "json":  # the API's rule: money is integer fen in ``*_fen`` fields
        fields = ["id", *(field for _header, field in COLUMNS + EXPORT_EXTRA)]
        return [
            dict(zip(fields, [customer.pk, *row], strict=True))
            | {field: getattr(customer, field) for field in MONEY_FIELDS}
            for customer, row in zip(customers, rows, strict=True)
        ], ""
    if file_format == "xlsx":
        return render_xlsx(headers, rows), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return render_csv(headers, rows), "text/csv; charset=utf-8"


def customer_personal_data(*, tenant: Tenant, user: User, customer: Customer) -> dict:
    """PIPL: one customer's data as JSON (manager), audit-logged."""
    from crm.permissions import require_permission

    require_permission(user, "customers.privacy")
    privacy.audit_log(tenant=tenant, actor=user, action=AuditAction.EXPORT_CUSTOMER, customer=customer)
    fields = [f.name for f in Customer._meta.concrete_fields if f.name not in ("tenant", "owner", "designer")]
    data = {name: getattr(customer, name) for name in fields}
    data = {
        k: (v.isoformat() if hasattr(v, "isoformat") else (str(v) if hasattr(v, "as_tuple") else v))
        for k, v in data.items()
    }
    data["owner"] = str(customer.owner or "")
    data["designer"] = str(customer.designer or "")
    data["leads"] = [
        {
            "received_at": lead.received_at.isoformat(),
            "source_channel": lead.source_channel,
            "note": lead.note,
        }
        for lead in customer.leads.order_by("received_at")
    ]
    data["follow_ups"] = [
        {
            "occurred_at": fu.occurred_at.isoformat(),
            "kind": fu.kind,
            "content": fu.content,
            "outcome": fu.outcome,
        }
        for fu in customer.follow_ups.order_by("occurred_at")
    ]
    from crm.extensions import personal_data_sections

    data.update(personal_data_sections(tenant=tenant, customer_id=customer.pk))
    return data
