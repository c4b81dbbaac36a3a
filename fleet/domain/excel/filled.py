"""The filled return of one city-month, laid out as a printable official form."""

import io
from datetime import datetime, timezone

from openpyxl import Workbook
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter

from ...models import MonthlyReturn, User
from ..periods import format_period
from ..programme import LOCAL_TZ
from ..returns import values_of
from . import layout
from .layout import text
from .safety import put_text

TEXT = {
    "status": ("状态", "Status"),
    "late": ("迟报", "submitted late"),
    "submitted_by": ("提交人", "Submitted by"),
    "submitted_at": ("提交时间", "Submitted at"),
    "approved_by": ("审核通过人", "Approved by"),
    "approved_at": ("通过时间", "Approved at"),
    "comment": ("审核意见", "Ministry's comment"),
    "signature": ("填报单位（盖章）：                负责人：                "
                  "填报人：                联系电话：",
                  "Reporting bureau (seal):                Head:                Prepared by:"
                  "                Telephone:"),
    "printed": ("打印时间", "Printed"),
    "page": ("第 &P 页，共 &N 页", "Page &P of &N"),
}


def _t(key: str, lang: str) -> str:
    zh, en = TEXT[key]
    return zh if lang == "zh" else en


def _who(user: User | None) -> str:
    if user is None:
        return "—"
    return f"{user.display_name} ({user.username})" if user.display_name else user.username


def _when(moment: datetime | None) -> str:
    """Stored UTC; printed in Beijing time."""
    if moment is None:
        return "—"
    return moment.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def build_filled_return(ret: MonthlyReturn, lang: str = "zh", *,
                        printed_at: datetime | None = None) -> bytes:
    """The return as an A4 landscape form: who and when, the numbers, totals, notes.

    printed_at: UTC time for the footer (default now). User text (names, notes, the
    ministry's comment) is written as text, never as a formula.
    """
    lang = "en" if lang.startswith("en") else "zh"
    wb = Workbook()
    layout.use_one_font(wb)
    ws = wb.active
    ws.title = layout.SHEET_TITLE[lang]
    _title(ws, lang)
    people = _who_and_when(ws, ret, lang)
    layout.write_return_grid(ws, lang, values_of(ret))
    layout.set_column_widths(ws, lang)
    # Column B holds who submitted and approved: wide enough for the longest name.
    ws.column_dimensions["B"].width = max(ws.column_dimensions["B"].width,
                                          layout.fit_width(people, 22, 40))
    last_row = _comment_and_signature(ws, ret, lang)
    printed = _when(printed_at or datetime.now(timezone.utc).replace(tzinfo=None))
    ws.oddFooter.left.text = f"{_t('printed', lang)}: {printed}"
    ws.oddFooter.right.text = _t("page", lang)
    for part in (ws.oddFooter.left, ws.oddFooter.right):
        part.font, part.size = layout.FONT_NAME, 9
    layout.print_setup(ws, f"1:{layout.HEADER_ROW}", last_row, one_page=True)
    ws.sheet_view.showGridLines = False
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _title(ws, lang: str) -> None:
    ws["A1"] = text("title", lang)
    ws["A1"].font = layout.TITLE_FONT
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.merge_cells(f"A1:{get_column_letter(layout.LAST_COLUMN)}1")
    ws.row_dimensions[1].height = 28


def _who_and_when(ws, ret: MonthlyReturn, lang: str) -> list[str]:
    """Rows 2–4: city, month, status (and lateness); who submitted and approved, when.
    Returns the texts of column B (for its width)."""
    late = f" · {_t('late', lang)}" if ret.received_late else ""
    header = [
        (text("city", lang), f"{ret.city.name(lang)} ({ret.city.code})",
         text("month", lang), format_period(ret.period, lang),
         _t("status", lang), layout.status_text(ret.status, lang) + late),
        (_t("submitted_by", lang), _who(ret.submitted_by),
         _t("submitted_at", lang), _when(ret.submitted_at), None, None),
        (_t("approved_by", lang), _who(ret.approved_by),
         _t("approved_at", lang), _when(ret.approved_at), None, None),
    ]
    for row, items in enumerate(header, start=2):
        for column, value in zip((1, 2, 3, 4, 5, 6), items, strict=True):
            if value is None:
                continue
            cell = ws.cell(row, column)
            put_text(cell, value)
            if column % 2:  # a label
                cell.font = layout.BOLD
                cell.alignment = Alignment(horizontal="right")
            else:
                cell.border = layout.BOX
                cell.alignment = Alignment(shrink_to_fit=True)
        ws.merge_cells(f"F{row}:G{row}")
    return [items[1] for items in header]


def _comment_and_signature(ws, ret: MonthlyReturn, lang: str) -> int:
    """The ministry's comment (if any) and the signature line; returns the last row."""
    last = get_column_letter(layout.LAST_COLUMN)
    row = layout.NOTES_LAST_ROW + 1
    if ret.review_comment:
        row += 1
        ws.cell(row, 1, _t("comment", lang)).font = layout.BOLD
        put_text(ws.cell(row, 2), ret.review_comment)
        ws.cell(row, 2).alignment = layout.WRAP_LEFT
        ws.merge_cells(f"B{row}:{last}{row}")
        ws.row_dimensions[row].height = 32
    row += 2
    ws.cell(row, 1, _t("signature", lang))
    ws.merge_cells(f"A{row}:{last}{row}")
    return row
