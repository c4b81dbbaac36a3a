"""A background job's page in a real browser (Playwright driving Chromium): the progress bar
follows the job through the page's own script, with no inline script or style (the CSP
refuses them), then the page turns into the download once the job is done, and it has no
WCAG 2.1 A/AA violation while it waits."""

import pytest

from fleet import background
from fleet.domain import jobs
from fleet.domain.audit import Actor
from fleet.extensions import db

from .returns_helpers import window_around_today
from .test_browser import CHROMIUM, browser, live_server, sign_in, watch_csp  # noqa: F401
from .test_browser_ux import axe_violations

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (apt-get install chromium)"),
]


def test_the_progress_bar_follows_the_job_then_offers_the_file(live_server, browser,  # noqa: F811
                                                              request):
    app, base = live_server
    users = request.getfixturevalue("users")
    window_around_today()
    # A job that waits on the queue (as on a busy worker): the page shows it waiting.
    job, created = jobs.request_job(db.session, Actor.of(users["ministry"]), "summary", None,
                                    {"basis": "reported", "through": None, "lang": "zh"}, "t")
    db.session.commit()
    assert created
    # axe is injected as a script of the test's own, on a page of its own (CSP bypassed).
    checked = browser.new_page(viewport={"width": 1366, "height": 900}, bypass_csp=True)
    sign_in(checked, base, "ministry1")
    checked.goto(f"{base}/jobs/{job.id}")
    assert axe_violations(checked) == []
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    blocked = watch_csp(page)
    sign_in(page, base, "ministry1")
    page.goto(f"{base}/jobs/{job.id}")
    assert page.locator("#job-status").inner_text() == "等待开始"
    assert page.locator("#job-bar").is_visible()
    # With script, the refresh link steps aside (it is the page's way without script).
    assert not page.locator("#refresh-link").is_visible()
    # The worker takes it: the script sees it done and the page offers the file.
    background.execute(app, job.id)
    page.wait_for_selector("#job-download", timeout=15000)
    assert "fleet-summary-" in page.locator("#job-download").inner_text()
    with page.expect_download() as download:
        page.click("#job-download")
    assert download.value.suggested_filename.endswith("-reported.xlsx")
    assert blocked == []
