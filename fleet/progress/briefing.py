"""The one-page briefing (简报) of the dashboard's month and basis: .docx and print page."""

from datetime import datetime

from flask import render_template

from .. import cache
from ..domain import briefing, charts
from ..domain.programme import LOCAL_TZ
from ..web import MINISTRY_SIDE, attachment, basis_and_through, lang, roles_required
from . import bp

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _briefing() -> briefing.Briefing:
    basis, through = basis_and_through()
    progress = cache.national(basis, through)
    generated = datetime.now(LOCAL_TZ).replace(tzinfo=None)
    return briefing.assemble(progress, cache.grid(progress.through), generated)


@bp.route("/progress/briefing")
@roles_required(*MINISTRY_SIDE)
def briefing_page():
    """The briefing as a print-friendly page (browser print: one A4 page)."""
    b = _briefing()
    language = lang()
    return render_template("progress/briefing.html", b=b, t=briefing.texts(b, language),
                           rows=lambda s: briefing.standing_row(s, language),
                           basis=b.progress.basis, through=b.progress.through)


@bp.route("/progress/briefing.docx")
@roles_required(*MINISTRY_SIDE)
def briefing_docx():
    """The briefing as a one-page Word document (python-docx)."""
    b = _briefing()
    language = lang()
    p = b.progress
    key, _ = cache.chart_key("national", p.basis, p.through, "png", language)
    png = cache.chart(key, lambda: charts.progress_chart("national", p, "png", language))
    return attachment(briefing.build_docx(b, png, language), DOCX,
                      f"fleet-briefing-{p.through}-{p.basis}.docx")
