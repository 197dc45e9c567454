"""Excel export of a panel: the same tables the page shows, one block per table."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font

from analytics.periods import PRESETS


def panel_workbook(data: dict) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = data["key"][:31]
    period = data["period"]
    sheet.append([data["title"]])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([str(PRESETS.get(period["preset"], "")), f"{period['start']} ~ {period['end']}"])
    sheet.append([])
    if data["kpis"]:
        sheet.append([kpi["label"] for kpi in data["kpis"]])
        sheet.append([kpi["value"] for kpi in data["kpis"]])
        sheet.append([])
    for table in data["tables"]:
        sheet.append([table["title"]])
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True)
        sheet.append(["", *[column["label"] for column in table["columns"]]])
        for row in table["rows"]:
            sheet.append([row["label"], *[row["values"].get(column["key"]) for column in table["columns"]]])
        sheet.append([])
    for note in data["notes"]:
        sheet.append([note])
    sheet.column_dimensions["A"].width = 18
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
