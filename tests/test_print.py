"""Workbooks that print well (issue 11, item 5): converted to PDF by LibreOffice, as a person
printing them would get them; page counts, texts, fonts and margins checked in the PDF
(poppler's pdftotext, pdfinfo, pdffonts)."""

import io
import re
import shutil
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from fleet.domain import demo, figures
from fleet.domain.audit import Actor
from fleet.domain.excel.filled import build_filled_return
from fleet.domain.excel.summary import build_summary_workbook
from fleet.extensions import db
from fleet.models import MonthlyReturn

from .excel_helpers import SOFFICE
from .factories import make_user

POPPLER = shutil.which("pdftotext") and shutil.which("pdffonts") and shutil.which("pdfinfo")
pytestmark = [
    pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed"),
    pytest.mark.skipif(not POPPLER, reason="poppler-utils is not installed (.ci/run installs it)"),
]


def to_pdf(data: bytes, tmp_path: Path, name: str) -> Path:
    """Print the workbook to PDF with headless LibreOffice."""
    source = tmp_path / f"{name}.xlsx"
    source.write_bytes(data)
    subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=300)
    return tmp_path / f"{name}.pdf"


def pages(pdf: Path) -> list[str]:
    """The text of each page."""
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                         capture_output=True, text=True).stdout
    return out.split("\f")[:-1]


def fonts(pdf: Path) -> list[str]:
    lines = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True,
                           text=True).stdout.splitlines()[2:]
    return [line.split()[0] for line in lines]


def words_outside(pdf: Path, margin: float = 12) -> list[str]:
    """Words drawn closer than `margin` points to an edge of the page, i.e. clipped."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    out = []
    for page in re.finditer(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', html,
                            re.S):
        width, height = float(page.group(1)), float(page.group(2))
        for word in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" '
                                r'yMax="([\d.]+)">([^<]*)</word>', page.group(3)):
            x0, y0, x1, y1 = map(float, word.groups()[:4])
            if x0 < margin or y0 < margin or x1 > width - margin or y1 > height - margin:
                out.append(word.group(5))
    return out


# The demo's full window to October 2026: 25 cities × 22 months, 12,000-odd rows of flat data.
DEMO_THROUGH, DEMO_TODAY = "2026-10", date(2026, 11, 15)


def test_the_summary_prints_sheet_by_sheet_in_one_font(app, cities, tmp_path):
    demo.load_demo(db.session, Actor.system("test"), through=DEMO_THROUGH, today=DEMO_TODAY)
    db.session.commit()
    progress = figures.national_progress(db.session, through=DEMO_THROUGH, today=DEMO_TODAY)
    data = build_summary_workbook(progress, figures.flat_rows(
        db.session, through=DEMO_THROUGH, today=DEMO_TODAY))
    # Printing the whole workbook, as LibreOffice does: a few pages, not one per 40 data rows.
    pdf = to_pdf(data, tmp_path, "summary")
    texts = pages(pdf)
    assert len(texts) <= 8
    # Each page names its sheet in the header, and is numbered.
    sheet_of = [text.strip().split()[0] for text in texts]
    for number, text in enumerate(texts, start=1):
        assert f"第 {number} 页，共 {len(texts)} 页" in text
    counts = {name: sheet_of.count(name) for name in dict.fromkeys(sheet_of)}
    page = {name: "\n".join(t for t, s in zip(texts, sheet_of, strict=True) if s == name)
            for name in counts}
    assert counts["概览"] <= 2 and "新能源汽车推广进展汇总" in page["概览"]
    assert "统计截至 2026年10月" in page["概览"]
    # 25 columns of cities: two pages across (not squeezed onto one), the city on both.
    assert counts["按城市"] == 2
    for text in (t for t, s in zip(texts, sheet_of, strict=True) if s == "按城市"):
        assert "北京市" in text and "银川市" in text
    assert counts["按月份"] <= 2
    assert "2025-01" in page["按月份"] and "2026-10" in page["按月份"]
    assert counts["按领域和动力类型"] == 1
    # The flat data prints as its heading row and a note on where the rows are: one page.
    flat_rows = sum(1 for _ in figures.flat_rows(db.session, through=DEMO_THROUGH,
                                                 today=DEMO_TODAY))
    assert flat_rows > 25 * 22 * 20
    assert counts["明细数据"] == 1
    assert "城市代码" in page["明细数据"] and "新增新能源汽车（辆）" in page["明细数据"]
    assert f"本表共 {flat_rows:,} 行明细数据" in page["明细数据"]
    assert "110000" not in page["明细数据"] and "2025-01" not in page["明细数据"]
    # ... as the sheet's print area, the defined name Excel and WPS read too.
    assert print_areas(data) == {"明细数据": "'明细数据'!$A$1:$J$1"}
    # The data are all there for filters and pivot tables.
    sheet = openpyxl.load_workbook(io.BytesIO(data))["明细数据"]
    assert sheet.max_row == flat_rows + 1 and sheet.max_column == 10
    assert all(row[0] and row[7] is not None
               for row in sheet.iter_rows(min_row=2, values_only=True))
    assert sheet.auto_filter.ref == f"A1:J{flat_rows + 1}"
    # Bold cells keep the sans-serif family: no serif font anywhere.
    assert not [f for f in fonts(pdf) if "Serif" in f or "Times" in f], fonts(pdf)
    # One sheet selected: the workbook does not open with sheets grouped, where typing into
    # the overview would write into the cities and months sheets too.
    assert selected_sheets(data) == ["概览"]
    # The heading rows are tall enough for their wrapped text.
    assert heading_height(data, "按城市") >= 30


def print_areas(data: bytes) -> dict[str, str]:
    """Each sheet's print area, as written: a _xlnm.Print_Area name local to the sheet."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        workbook = z.read("xl/workbook.xml").decode()
    names = re.findall(r'<sheet [^>]*name="([^"]+)"', workbook)
    return {names[int(index)]: area for index, area in re.findall(
        r'<definedName name="_xlnm.Print_Area" localSheetId="(\d+)">([^<]+)</definedName>',
        workbook)}


def selected_sheets(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = re.findall(r'<sheet [^>]*name="([^"]+)"', z.read("xl/workbook.xml").decode())
        return [name for index, name in enumerate(names, start=1)
                if 'tabSelected="1"' in z.read(f"xl/worksheets/sheet{index}.xml").decode()]


def heading_height(data: bytes, sheet: str) -> float:
    ws = openpyxl.load_workbook(io.BytesIO(data))[sheet]
    return ws.row_dimensions[1].height or 0


def test_the_filled_return_prints_on_one_page_with_nothing_clipped(app, cities, tmp_path):
    demo.load_demo(db.session, Actor.system("test"))
    ret = db.session.scalar(select(MonthlyReturn).where(MonthlyReturn.status == "approved")
                            .order_by(MonthlyReturn.id.desc()))
    clerk = make_user("shenzhen_statistics_clerk", "city", ret.city,
                      display_name="深圳市交通运输局综合规划处 欧阳晓明")
    ret.submitted_by = clerk
    ret.review_comment = "数据已核实。" * 20
    db.session.commit()
    pdf = to_pdf(build_filled_return(ret), tmp_path, "filled")
    (text,) = pages(pdf)
    flat = re.sub(r"\s+", "", text)
    assert "深圳市交通运输局综合规划处欧阳晓明(shenzhen_statistics_clerk)" in flat
    assert "打印时间" in text and "第 1 页，共 1 页" in text
    assert "填报单位（盖章）" in text and "合计" in text
    assert words_outside(pdf) == []
    assert not [f for f in fonts(pdf) if "Serif" in f or "Times" in f], fonts(pdf)
