"""Files: the catalogue as .xlsx (also the import template), a quotation as .xlsx and as a PDF.

The PDF uses reportlab's built-in CID font ``STSong-Light`` (Adobe's Asian font pack names it; PDF
readers supply the glyphs), so Chinese prints without shipping a font file.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from decimal import Decimal

import openpyxl
from django.utils import timezone

from crm.money import fen_to_yuan, format_fen
from crm.validators import strip_control_characters
from quotes.models import CatalogueItem, Quotation, QuotationLine
from quotes.services.catalogue import IMPORT_COLUMNS

CID_FONT = "STSong-Light"


def _text(value: str) -> str:
    return strip_control_characters(value or "")


def catalogue_xlsx(items: Iterable[CatalogueItem]) -> bytes:
    """The catalogue in the import layout: export, edit, import back. No items: an empty template."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "价目表"
    sheet.append([header for header, _field in IMPORT_COLUMNS])
    for item in items:
        sheet.append(
            [
                _text(item.name),
                _text(item.spec),
                _text(item.unit),
                fen_to_yuan(item.unit_price_fen),
                str(item.get_category_display()),
                "是" if item.active else "否",
            ]
        )
    for column, width in zip("ABCDEF", (24, 20, 8, 12, 10, 8), strict=True):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _line_rows(lines: Iterable[QuotationLine]) -> list[list]:
    return [
        [
            line.position,
            _text(line.name),
            _text(line.spec),
            str(line.get_category_display() or ""),
            _text(line.unit),
            Decimal(line.quantity_display),
            fen_to_yuan(line.unit_price_fen),
            fen_to_yuan(line.amount_fen),
        ]
        for line in lines
    ]


LINE_HEADERS = ["序号", "名称", "规格", "类别", "单位", "数量", "单价（元）", "金额（元）"]


def quotation_xlsx(quotation: Quotation) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = f"报价单 v{quotation.version}"
    sheet.append([f"报价单 {quotation.number} 第 {quotation.version} 版"])
    sheet.append(["客户", _text(quotation.customer.name), "标题", _text(quotation.title)])
    sheet.append(["面积（㎡）", quotation.area_sqm or "", "状态", str(quotation.get_status_display())])
    sheet.append([])
    sheet.append(LINE_HEADERS)
    for row in _line_rows(quotation.lines.all()):
        sheet.append(row)
    sheet.append([])
    sheet.append(["", "", "", "", "", "", "小计（元）", fen_to_yuan(quotation.subtotal_fen)])
    sheet.append(["", "", "", "", "", "", "折扣（元）", fen_to_yuan(quotation.discount_fen)])
    sheet.append(["", "", "", "", "", "", "合计（元）", fen_to_yuan(quotation.total_fen)])
    for column, width in zip("ABCDEFGH", (6, 24, 18, 8, 6, 10, 12, 14), strict=True):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def quotation_pdf(quotation: Quotation, *, company: str) -> bytes:
    """A printable A4 quotation in Chinese: header, lines table, subtotal / discount / total."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    title_style = ParagraphStyle("title", fontName=CID_FONT, fontSize=16, leading=22, alignment=1)
    body = ParagraphStyle("body", fontName=CID_FONT, fontSize=9, leading=13)
    cell = ParagraphStyle("cell", fontName=CID_FONT, fontSize=8, leading=11)

    def p(text: str, style: ParagraphStyle = cell) -> Paragraph:
        escaped = _text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return Paragraph(escaped, style)

    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{quotation.number} v{quotation.version}",
        author=_text(company),
    )
    story: list = [p(f"{company} 报价单", title_style), Spacer(1, 4 * mm)]
    facts = [
        f"报价单号：{quotation.number}（第 {quotation.version} 版）",
        f"客户：{quotation.customer.name}",
        f"项目：{quotation.project.name if quotation.project else '—'}",
        f"标题：{quotation.title}",
        f"面积：{quotation.area_sqm or '—'} ㎡",
        f"日期：{timezone.localtime(quotation.sent_at or quotation.created_at):%Y-%m-%d}",
    ]
    story += [p(line, body) for line in facts]
    story.append(Spacer(1, 4 * mm))
    rows: list[list] = [[p(header) for header in LINE_HEADERS]]
    for row in _line_rows(quotation.lines.all()):
        rows.append([p(str(value)) for value in row])
    table = Table(rows, colWidths=[10 * mm, 42 * mm, 30 * mm, 16 * mm, 12 * mm, 18 * mm, 22 * mm, 30 * mm])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story += [table, Spacer(1, 4 * mm)]
    story.append(p(f"小计：{format_fen(quotation.subtotal_fen)}", body))
    if quotation.discount_fen:
        story.append(p(f"折扣：-{format_fen(quotation.discount_fen)}", body))
    story.append(p(f"合计：{format_fen(quotation.total_fen)}", title_style))
    if quotation.note:
        story += [Spacer(1, 3 * mm), p(f"备注：{quotation.note}", body)]
    document.build(story)
    return out.getvalue()


def export_filename(quotation: Quotation, extension: str) -> str:
    return f"quotation-{quotation.number}-v{quotation.version}.{extension}"
