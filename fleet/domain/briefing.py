"""The one-page briefing (简报) for leadership: the same content as a .docx (python-docx) and
as a print-friendly page.

Every number comes from fleet.domain.figures (national progress, the completeness grid,
leaders and laggards, a month's late and missing cities); this module only lays them out.
"""

import io
from dataclasses import dataclass
from datetime import datetime

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from . import figures
from .figures import CategoryFigures, CityStanding, Grid, MonthCompliance, Progress
from .i18n import translator
from .periods import format_period
from .reference import CATEGORY_BY_CODE, label

LEADERS = 5


@dataclass(frozen=True)
class Briefing:
    """What the briefing shows, as figures (the texts are made in the reader's language)."""

    progress: Progress
    compliance: MonthCompliance  # of the month `through`
    leaders: tuple[CityStanding, ...]
    laggards: tuple[CityStanding, ...]
    aim_sectors: tuple[CategoryFigures, ...]
    generated_at: datetime  # local time of generation


def assemble(progress: Progress, grid: Grid, generated_at: datetime) -> Briefing:
    """The briefing of `progress` (its basis and month); `grid` must run to the same month."""
    leaders, laggards = figures.leaders_and_laggards(progress, LEADERS)
    return Briefing(progress, figures.month_compliance(grid, progress.through), leaders,
                    laggards, figures.aim_sectors(progress), generated_at)


# --- texts shared by the .docx and the page ------------------------------------------------------

def number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:,.{digits}f}%"


@dataclass(frozen=True)
class BriefingText:
    """The briefing's sentences in one language, for the .docx and the page alike."""

    title: str
    headline: tuple[tuple[str, str], ...]  # (label, value)
    projection: str
    leaders_title: str
    laggards_title: str
    table_head: tuple[str, str, str, str]
    late: str
    missing: str
    shares: str
    charging: str
    generated: str
    note: str


def _names(rows, lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(r.name(lang) for r in rows)


def texts(b: Briefing, lang: str) -> BriefingText:
    """Every sentence of the briefing in `lang` ('zh' or 'en')."""
    _ = translator(lang)
    p = b.progress
    basis = _("reported (submitted + approved)") if p.basis == "reported" else _(
        "verified (approved only)")
    month = format_period(p.through, lang)
    on_track = {True: _("on track"), False: _("not on track"), None: "—"}[p.on_track]
    none = _("none")
    sep = "；" if lang == "zh" else "; "
    return BriefingText(
        title=_("Pilot-city NEV progress briefing, %(month)s", month=month),
        headline=(
            (_("Cumulative new NEVs"), number(p.nev)),
            (_("of the %(target)s target", target=number(p.target)), percent(p.pct_of_target)),
            (_("Time elapsed"), percent(p.window.elapsed_share)),
            (_("Projection at the end of %(month)s", month=format_period(
                p.window.last_period, lang)), number(p.projection.value)),
        ),
        projection=_("Basis: %(basis)s. Projection from the average of the last %(n)s "
                     "months (%(rate)s NEVs a month): %(status)s.", basis=basis,
                     n=p.projection.months_used, rate=number(round(p.projection.run_rate)),
                     status=on_track),
        leaders_title=_("Furthest ahead of their targets"),
        laggards_title=_("Furthest behind their targets"),
        table_head=(_("City"), _("NEVs"), _("% of target"), _("vs time elapsed")),
        late=_("Submitted late for %(month)s: %(cities)s", month=month,
               cities=_names(b.compliance.late, lang) or none),
        missing=(_("Missing for %(month)s: %(cities)s", month=month,
                   cities=_names(b.compliance.missing, lang) or none)
                 if b.compliance.due else _("%(month)s is not due yet.", month=month)),
        shares=_("NEV share in the aim sectors (aim 80%%): %(shares)s", shares=sep.join(
            f"{label(CATEGORY_BY_CODE[c.category], lang)} {percent(c.share)}"
            for c in b.aim_sectors)),
        charging=_("Charging points added per NEV added: %(ratio)s (aim 1 : 1).",
                   ratio="—" if p.charging_per_nev is None else f"{p.charging_per_nev:.2f}"),
        generated=_("Generated on %(date)s by Fleet.",
                    date=b.generated_at.strftime("%Y-%m-%d %H:%M")),
        note=_("Figures from the returns through %(month)s.", month=month),
    )


def standing_row(s: CityStanding, lang: str) -> tuple[str, str, str, str]:
    gap = s.gap * 100
    return (s.city.name(lang), number(s.city.nev), percent(s.pct_of_target),
            f"{gap:+.1f} pp" if lang == "en" else f"{gap:+.1f}个百分点")


# --- the .docx ----------------------------------------------------------------------------------

FONT_LATIN = "Arial"
FONT_CJK = "SimSun"


def _font(run, size: float, bold: bool = False) -> None:
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = FONT_LATIN
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT_CJK)


def _paragraph(doc, text: str, size: float = 10, bold: bool = False, after: float = 2,
               align=None):
    paragraph = doc.add_paragraph()
    paragraph.paragraph_format.space_after = Pt(after)
    paragraph.paragraph_format.space_before = Pt(0)
    if align is not None:
        paragraph.alignment = align
    _font(paragraph.add_run(text), size, bold)
    return paragraph


def _cell(cell, text: str, size: float = 9, bold: bool = False, right: bool = False) -> None:
    paragraph = cell.paragraphs[0]
    paragraph.paragraph_format.space_after = Pt(0)
    if right:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _font(paragraph.add_run(text), size, bold)


def _a4(doc) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin = section.right_margin = Cm(1.8)
    section.top_margin = section.bottom_margin = Cm(1.5)


def _headline(doc, t: BriefingText) -> None:
    table = doc.add_table(rows=2, cols=len(t.headline))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for i, (caption, value) in enumerate(t.headline):
        _cell(table.cell(0, i), caption, 8.5)
        _cell(table.cell(1, i), value, 13, bold=True)


def _standings(doc, b: Briefing, t: BriefingText, lang: str) -> None:
    table = doc.add_table(rows=2 + LEADERS, cols=9)
    table.style = "Table Grid"
    _cell(table.cell(0, 0).merge(table.cell(0, 3)), t.leaders_title, 9, bold=True)
    _cell(table.cell(0, 5).merge(table.cell(0, 8)), t.laggards_title, 9, bold=True)
    for offset, rows in ((0, b.leaders), (5, b.laggards)):
        for j, head in enumerate(t.table_head):
            _cell(table.cell(1, offset + j), head, 8, bold=True, right=j > 0)
        for i, standing in enumerate(rows):
            for j, text in enumerate(standing_row(standing, lang)):
                _cell(table.cell(2 + i, offset + j), text, 8.5, right=j > 0)
    for row in table.rows:
        row.cells[4].width = Cm(0.3)


def build_docx(b: Briefing, chart_png: bytes, lang: str = "zh") -> bytes:
    """The briefing as a one-page A4 Word document an official can edit and paste from."""
    t = texts(b, lang)
    doc = Document()
    _a4(doc)
    doc.core_properties.title = t.title
    _paragraph(doc, t.title, 16, bold=True, after=4, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, t.note, 9, after=4, align=WD_ALIGN_PARAGRAPH.CENTER)
    _headline(doc, t)
    _paragraph(doc, t.projection, 9.5, after=2)
    doc.add_picture(io.BytesIO(chart_png), width=Cm(16.5))
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _standings(doc, b, t, lang)
    _paragraph(doc, "", 4, after=0)
    for line in (t.late, t.missing, t.shares, t.charging):
        _paragraph(doc, line, 9.5, after=2)
    _paragraph(doc, t.generated, 8, after=0, align=WD_ALIGN_PARAGRAPH.RIGHT)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
