"""Excel export of a panel: the same tables the page shows, one block per table."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Font

from analytics.periods import PRESETS
from crm.money import fen_to_yuan


def panel_workbook(data: dict) -> bytes:
    workbook = Workbook()
    _panel_sheet(workbook.active, data)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def report_workbook(panels: list[dict], *, title: str) -> bytes:
    """All panels, one sheet each, with a bar chart of each panel's first charted table."""
    workbook = Workbook()
    cover = workbook.active
    cover.title = "summary"
    cover.append([title])
    cover["A1"].font = Font(bold=True, size=14)
    for data in panels:
        cover.append([])
        cover.append([data["title"]])
        cover.cell(row=cover.max_row, column=1).font = Font(bold=True)
        for item in data["kpis"]:
            cover.append([item["label"], item["value"], item["previous"]])
            _yuan_cells(cover, [False, *[item["kind"] == "money"] * 2])
    cover.column_dimensions["A"].width = 28
    for data in panels:
        _panel_sheet(workbook.create_sheet(), data, with_chart=True)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _yuan_cells(sheet, money: list[bool]) -> None:
    """The last row's money cells (integer fen in the panel) become yuan shown with two decimals."""
    for cell, is_money in zip(sheet[sheet.max_row], money, strict=False):
        if is_money and isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
            cell.value = float(fen_to_yuan(round(cell.value)))
            cell.number_format = "#,##0.00"


def _panel_sheet(sheet, data: dict, *, with_chart: bool = False) -> None:
    sheet.title = data["key"][:31]
    period = data["period"]
    sheet.append([data["title"]])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([str(PRESETS.get(period["preset"], "")), f"{period['start']} ~ {period['end']}"])
    sheet.append([])
    if data["kpis"]:
        sheet.append([kpi["label"] for kpi in data["kpis"]])
        sheet.append([kpi["value"] for kpi in data["kpis"]])
        _yuan_cells(sheet, [kpi["kind"] == "money" for kpi in data["kpis"]])
        sheet.append([])
    drawable = ("bar", "hbar", "line", "stack")
    charted = {chart["table"]: chart for chart in data["charts"] if chart["type"] in drawable}
    drawn = False
    for table in data["tables"]:
        sheet.append([table["title"]])
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True)
        sheet.append(["", *[column["label"] for column in table["columns"]]])
        header_row = sheet.max_row
        money = [False, *[column["kind"] == "money" for column in table["columns"]]]
        for row in table["rows"]:
            sheet.append([row["label"], *[row["values"].get(column["key"]) for column in table["columns"]]])
            _yuan_cells(sheet, money)
        chart = charted.get(table["key"])
        if with_chart and not drawn and chart and table["rows"]:
            _add_chart(sheet, table, chart, header_row)
            drawn = True
        sheet.append([])
    for note in data["notes"]:
        sheet.append([note])
    sheet.column_dimensions["A"].width = 18


def _add_chart(sheet, table: dict, chart: dict, header_row: int) -> None:
    keys = [column["key"] for column in table["columns"]]
    figure = LineChart() if chart["type"] == "line" else BarChart()
    if chart["type"] == "hbar":
        figure.type = "bar"
    figure.title = chart["title"]
    last_row = header_row + len(table["rows"])
    for key in chart["series"]:
        if key in keys:
            index = keys.index(key) + 2
            figure.add_data(
                Reference(sheet, min_col=index, min_row=header_row, max_row=last_row), titles_from_data=True
            )
    figure.set_categories(Reference(sheet, min_col=1, min_row=header_row + 1, max_row=last_row))
    figure.width, figure.height = 18, 8
    sheet.add_chart(figure, f"{chr(ord('A') + len(keys) + 2)}{header_row}")
