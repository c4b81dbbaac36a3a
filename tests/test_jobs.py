"""Background jobs, as a user meets them: the national roster export, a large roster upload's
check and its saving, and the summary workbook of many cities leave the request; the job's
page follows the progress and then offers the file (audited, only within the requester's
scope); asking again gives the same job; a failure says why; files expire after a day.
Without Redis the jobs run in a thread of the web process; with it, on an RQ worker
(`flask fleet worker`).
"""

import csv
import io
import re
import uuid
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from fleet import background
from fleet.domain.cities import city_by_code
from fleet.extensions import db
from fleet.models import AuditEvent, Job, RosterConflict, RosterUpload, Vehicle, utcnow

from .factories import PASSWORD, make_user
from .redis_helpers import forget_queue, redis_or_skip
from .returns_helpers import form_data, the_return, this_month
from .roster_helpers import csv_bytes, make_vin, rows_for
from .test_roster import confirm, load, upload, vehicle_count
from .test_roster_access import two_cities

REDIS_URL = "redis://127.0.0.1:6379/12"


@pytest.fixture
def app(make_app):
    """Small thresholds, so that a handful of rows exercises the large-file paths."""
    app = make_app(JOB_PROGRESS_ROWS=2, ROSTER_DIRECT_MAX_ROWS=3, ROSTER_JOB_MIN_BYTES=10**9,
                   SUMMARY_JOB_MIN_CITIES=1000)
    with app.app_context():
        yield app




def job_id_of(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return int(re.search(r"/jobs/(\d+)$", response.headers["Location"]).group(1))


def finished(job_id: int) -> Job:
    assert background.drain(120)
    db.session.rollback()
    return db.session.get(Job, job_id)


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def job_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(Job.id)))


# --- the national roster export ---------------------------------------------------------------

def test_the_national_roster_export_is_a_job_with_progress_then_a_download(client, auth,
                                                                           setup):
    two_cities(client, auth)
    auth.login("ministry1")
    page = client.get("/progress/roster").get_data(as_text=True)
    assert 'action="/progress/roster/vehicles.csv/prepare"' in page  # the page's button
    job_id = job_id_of(client.post("/progress/roster/vehicles.csv/prepare"))
    job = finished(job_id)
    assert job.status == "done" and (job.done, job.total) == (5, 5)
    shown = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="job-download"' in shown and "fleet-vehicles.csv" in shown
    status = client.get(f"/jobs/{job_id}/status").get_json()
    assert status["status"] == "done" and status["percent"] == 100
    assert status["download_url"] == f"/jobs/{job_id}/download"
    download = client.get(f"/jobs/{job_id}/download", buffered=True)
    assert download.status_code == 200
    assert 'filename="fleet-vehicles.csv"' in download.headers["Content-Disposition"]
    # The same file as the direct (streamed) download of the same rows.
    direct = client.get("/progress/roster/vehicles.csv?period=" + this_month(), buffered=True)
    assert csv_rows(download.data)[0] == csv_rows(direct.data)[0]
    rows = csv_rows(download.data)
    assert len(rows) == 6 and {r[0] for r in rows[1:]} == {"440300", "110000"}
    db.session.rollback()
    took = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "file.download", AuditEvent.target_type == "job")).all()
    assert [(e.username, e.target_id) for e in took] == [("ministry1", str(job_id))]
    asked = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "job.request"))
    assert [e.username for e in asked] == ["ministry1"]


def test_the_excel_export_and_the_filters_go_to_the_job(client, auth, setup):
    month, _ = two_cities(client, auth)
    auth.login("viewer1")
    job_id = job_id_of(client.post(f"/progress/roster/vehicles.xlsx/prepare?city=440300"
                                   f"&period={month}&category=bus"))
    assert finished(job_id).status == "done"
    download = client.get(f"/jobs/{job_id}/download", buffered=True)
    assert f"fleet-vehicles-440300-{month}-bus.xlsx" in download.headers["Content-Disposition"]
    shown = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "深圳市" in shown and "城市公交" in shown and "Excel" in shown
    sheet = load_workbook(io.BytesIO(download.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "城市代码" and len(values) == 4
    assert {v[0] for v in values[1:]} == {"440300"}


def test_asking_again_gives_the_same_job_until_the_data_changes(client, auth, setup):
    two_cities(client, auth)
    auth.login("ministry1")
    first = job_id_of(client.post("/progress/roster/vehicles.csv/prepare"))
    # A second click while it is queued or running, and after it is done: the same job.
    assert job_id_of(client.post("/progress/roster/vehicles.csv/prepare")) == first
    finished(first)
    assert job_id_of(client.post("/progress/roster/vehicles.csv/prepare")) == first
    auth.logout()
    auth.login("viewer1")  # the same file of the nation, for another reader of it
    assert job_id_of(client.post("/progress/roster/vehicles.csv/prepare")) == first
    # Another format or another language is another file.
    other = job_id_of(client.post("/progress/roster/vehicles.xlsx/prepare"))
    assert other != first
    finished(other)
    assert job_count() == 2
    # New data: a new job (the old file would not hold the new vehicle).
    auth.logout()
    auth.login("shenzhen")
    load(client, rows_for(this_month(), {("bus", "bev"): 4}))
    auth.logout()
    auth.login("ministry1")
    third = job_id_of(client.post("/progress/roster/vehicles.csv/prepare"))
    assert third not in (first, other)
    finished(third)
    assert len(csv_rows(client.get(f"/jobs/{third}/download", buffered=True).data)) == 7


def test_a_job_runs_once_however_often_it_is_handed_out(app, client, auth, setup):
    two_cities(client, auth)
    auth.login("ministry1")
    job_id = job_id_of(client.post("/progress/roster/vehicles.csv/prepare"))
    finished(job_id)
    background.execute(app, job_id)  # handed out again: the claim refuses it
    job = finished(job_id)
    assert job.status == "done" and job.started_at is not None
    assert len(list(background.folder(app).glob(f"job-{job_id}-*"))) == 1


def test_a_direct_export_too_large_to_stream_leads_to_the_prepare_button(client, auth, setup):
    month, _ = two_cities(client, auth)
    auth.login("ministry1")
    small = client.get(f"/progress/roster/vehicles.csv?city=440300&period={month}",
                       buffered=True)
    assert small.status_code == 200 and len(csv_rows(small.data)) == 4  # 3 ≤ 3: direct
    large = client.get("/progress/roster/vehicles.csv?category=")
    assert large.status_code == 303 and large.headers["Location"].endswith("/progress/roster")
    page = client.get(large.headers["Location"]).get_data(as_text=True)
    assert "后台" in page and 'id="prepare-csv"' in page
    assert job_count() == 0  # a GET starts nothing


def test_a_city_never_reaches_the_nations_job_nor_another_citys(client, auth, setup):
    two_cities(client, auth)
    auth.login("ministry1")
    job_id = job_id_of(client.post("/progress/roster/vehicles.csv/prepare"))
    finished(job_id)
    auth.logout()
    auth.login("shenzhen")
    for url in (f"/jobs/{job_id}", f"/jobs/{job_id}/status", f"/jobs/{job_id}/download"):
        assert client.get(url).status_code == 404, url
    assert client.post("/progress/roster/vehicles.csv/prepare").status_code == 403
    db.session.rollback()
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "access.denied", AuditEvent.username == "shenzhen")) >= 3
    assert "fleet-vehicles" not in client.get("/jobs/").get_data(as_text=True)
    auth.logout()
    auth.login("auditor1")  # not a reader of the nation's files either
    assert client.get(f"/jobs/{job_id}/download").status_code == 404


def test_bad_filters_start_nothing(client, auth, setup):
    auth.login("ministry1")
    for url in ("/progress/roster/vehicles.pdf/prepare", "/progress/roster/vehicles.csv/"
                "prepare?city=999999", "/progress/roster/vehicles.csv/prepare?period=2026-13",
                "/progress/roster/vehicles.csv/prepare?category=rocket"):
        assert 400 <= client.post(url).status_code < 500, url
    assert job_count() == 0


# --- expiry, lost jobs, failures --------------------------------------------------------------

def test_files_expire_after_a_day_and_the_cleanup_removes_them(app, client, auth, setup):
    two_cities(client, auth)
    auth.login("ministry1")
    job_id = job_id_of(client.post("/progress/roster/vehicles.csv/prepare"))
    job = finished(job_id)
    assert job.expires_at - job.finished_at == timedelta(days=1)
    path = background.folder(app) / job.file_name
    assert path.is_file()
    job.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["fleet", "jobs", "cleanup"])
    assert result.exit_code == 0 and "1 expired job files removed" in result.output
    assert not path.exists()
    assert client.get(f"/jobs/{job_id}/download").status_code == 404
    assert 'id="job-expired"' in client.get(f"/jobs/{job_id}").get_data(as_text=True)
    again = job_id_of(client.post("/progress/roster/vehicles.csv/prepare"))
    assert again != job_id and finished(again).status == "done"


def test_a_file_gone_from_the_folder_is_made_again(app, client, auth, setup):
    two_cities(client, auth)
    auth.login("ministry1")
    job_id = job_id_of(client.post("/progress/roster/vehicles.csv/prepare"))
    (background.folder(app) / finished(job_id).file_name).unlink()
    assert client.get(f"/jobs/{job_id}/download").status_code == 404
    again = job_id_of(client.post("/progress/roster/vehicles.csv/prepare"))
    assert again != job_id and finished(again).status == "done"
    assert client.get(f"/jobs/{again}/download").status_code == 200


def test_a_lost_job_is_failed_and_may_be_asked_again(client, auth, setup):
    two_cities(client, auth)
    auth.login("ministry1")
    job_id = job_id_of(client.post("/progress/roster/vehicles.csv/prepare"))
    job = finished(job_id)
    # As if its runner had stopped half-way, twenty minutes ago.
    job.status, job.heartbeat_at = "running", utcnow() - timedelta(minutes=20)
    job.file_name = None
    db.session.commit()
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="job-error"' in page and "中断" in page
    again = job_id_of(client.post("/progress/roster/vehicles.csv/prepare"))
    assert again != job_id and finished(again).status == "done"


def test_a_failed_job_says_why_in_the_users_words(make_app, client, auth, setup):
    """A large 'roster' that is a text file renamed .xlsx: the check job fails and its page
    says what the small upload's page would have said."""
    auth.login("shenzhen")
    app = client.application
    app.config["ROSTER_JOB_MIN_BYTES"] = 10
    response = upload(client, b"this is not a workbook at all" * 10, "roster.xlsx")
    job_id = job_id_of(response)
    assert finished(job_id).status == "failed"
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="job-error"' in page and "Excel" in page and "Traceback" not in page
    client.post("/lang/en")
    status = client.get(f"/jobs/{job_id}/status").get_json()
    assert status["status"] == "failed" and "not an Excel workbook" in status["error"]


# --- a large roster upload --------------------------------------------------------------------

def test_a_large_roster_upload_is_checked_by_a_job_then_confirmed(client, auth, setup):
    month = this_month()
    auth.login("shenzhen")
    client.application.config["ROSTER_JOB_MIN_BYTES"] = 100
    data = csv_bytes(rows_for(month, {("bus", "bev"): 4, ("taxi", "phev"): 2}))
    job_id = job_id_of(upload(client, data))
    assert job_id_of(upload(client, data)) == job_id  # the same file again: the same job
    job = finished(job_id)
    assert job.status == "done" and job.file_name is None  # no errors, no error file
    shown = client.get(f"/jobs/{job_id}")
    assert shown.status_code == 302
    assert shown.headers["Location"].endswith(f"/returns/{month}/roster/checks/{job_id}")
    page = client.get(shown.headers["Location"]).get_data(as_text=True)
    assert 'id="rows-accepted">6<' in page and 'id="confirm-roster"' in page
    db.session.rollback()
    assert db.session.scalar(select(func.count(Vehicle.id))) == 0  # a dry run
    assert finished(job_id_of(confirm(client, page))).status == "done"  # saved by a job too
    db.session.rollback()
    assert db.session.scalar(select(func.count(Vehicle.id))) == 6
    auth.logout()
    auth.login("beijing")  # another city's check: not even its page
    assert client.get(f"/jobs/{job_id}").status_code == 404
    auth.logout()
    auth.login("ministry1")  # nor the ministry's: it is the clerk's own upload
    assert client.get(f"/jobs/{job_id}").status_code == 404


def test_a_large_upload_with_errors_offers_the_failing_rows_from_the_job(client, auth, setup):
    month = this_month()
    auth.login("shenzhen")
    client.application.config["ROSTER_JOB_MIN_BYTES"] = 100
    rows = rows_for(month, {("bus", "bev"): 3})
    rows[1][0] = "NOT-A-VIN"
    job_id = job_id_of(upload(client, csv_bytes(rows)))
    job = finished(job_id)
    assert job.status == "done" and job.result["error_rows"] == 1
    page = client.get(f"/returns/{month}/roster/checks/{job_id}").get_data(as_text=True)
    assert 'id="roster-errors"' in page and 'id="confirm-roster"' not in page
    assert f'href="/jobs/{job_id}/download"' in page
    errors = client.get(f"/jobs/{job_id}/download", buffered=True)
    sheet = load_workbook(io.BytesIO(errors.data)).active
    assert [r[1] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["NOT-A-VIN"]


# --- saving a large roster upload -------------------------------------------------------------

def checked_large_upload(client, rows) -> str:
    """Upload a roster over ROSTER_JOB_MIN_BYTES as the signed-in clerk and wait for its
    check: the findings' page, with its confirmation."""
    client.application.config["ROSTER_JOB_MIN_BYTES"] = 100
    check = job_id_of(upload(client, csv_bytes(rows)))
    assert finished(check).status == "done"
    page = client.get(f"/jobs/{check}", follow_redirects=True).get_data(as_text=True)
    assert 'id="confirm-roster"' in page
    return page


def jobs_of(kind: str) -> list[Job]:
    db.session.rollback()
    return list(db.session.scalars(select(Job).where(Job.kind == kind)))


def events(action: str) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent.username).where(
        AuditEvent.action == action)))


def test_saving_a_large_upload_is_a_job_that_runs_once(app, client, auth, setup):
    month = this_month()
    year, number = month.split("-")
    auth.login("shenzhen")
    page = checked_large_upload(client, rows_for(month, {("bus", "bev"): 4,
                                                         ("taxi", "phev"): 2}))
    job_id = job_id_of(confirm(client, page))
    # A second click, whether the job still runs or is done already: the same job.
    assert job_id_of(confirm(client, page)) == job_id
    assert finished(job_id).status == "done"
    assert job_id_of(confirm(client, page)) == job_id  # the browser's back, then again
    background.execute(app, job_id)  # handed out again: its claim refuses it
    assert len(jobs_of("roster_confirm")) == 1 and events("roster.replace") == ["shenzhen"]
    shown = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "保存车辆明细" in shown
    saved = shown.split('id="job-saved"')[1].split("</div>")[0]
    assert f"{year}年{int(number)}月 车辆明细已保存：共 6 辆" in saved
    assert f'href="/returns/{month}/roster" id="job-roster"' in shown
    notes = shown.split('id="job-notes"')[1].split("</div>")[0]  # as the page flashes them
    assert "城市公交的全部新增车辆已由 0 调整为 4" in notes
    # The roster is saved, the return's NEV counts come from it, the file is let go.
    ret = the_return()
    lines = {line.category: line for line in ret.lines}
    assert ret.roster_count == 6 and vehicle_count() == 6
    assert (lines["bus"].bev, lines["taxi"].phev, lines["taxi"].all_new) == (4, 2, 2)
    assert db.session.scalar(select(func.count(RosterUpload.id))) == 0
    listing = client.get(f"/returns/{month}/roster").get_data(as_text=True)
    assert 'id="roster-total">6<' in listing and make_vin(5) in listing
    # The clerk's own: not another clerk of the same city, not another city, not the ministry.
    make_user("shenzhen2", "city", city_by_code(db.session, "440300"))
    for other in ("shenzhen2", "beijing", "ministry1"):
        auth.logout()
        auth.login(other)
        for url in (f"/jobs/{job_id}", f"/jobs/{job_id}/status", f"/jobs/{job_id}/download"):
            assert client.get(url).status_code == 404, (other, url)
        assert f"/jobs/{job_id}" not in client.get("/jobs/").get_data(as_text=True)
    # Nor can the other clerk confirm the upload again, or reach the job that way.
    auth.logout()
    auth.login("shenzhen2")
    again = confirm(client, page)
    assert again.status_code == 302 and again.headers["Location"].endswith("/roster")
    assert len(jobs_of("roster_confirm")) == 1 and vehicle_count() == 6


def test_a_vin_counted_elsewhere_since_the_check_fails_the_saving(client, auth, setup):
    """Beijing counts one of the vehicles between Shenzhen's check and its confirmation: the
    job fails and says why, nothing of the file is saved, the refused claim is kept."""
    month = this_month()
    auth.login("shenzhen")
    page = checked_large_upload(client, rows_for(month, {("bus", "bev"): 3}))
    auth.logout()
    auth.login("beijing")
    client.application.config["ROSTER_JOB_MIN_BYTES"] = 10**9
    assert load(client, rows_for(month, {("bus", "bev"): 1})).status_code == 302
    auth.logout()
    auth.login("shenzhen")
    client.application.config["ROSTER_JOB_MIN_BYTES"] = 100
    job_id = job_id_of(confirm(client, page))
    assert finished(job_id).status == "failed"
    shown = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    error = shown.split('id="job-error"')[1].split("</div>")[0]
    assert "车辆明细有 1 行错误，未保存任何内容。" in error and "第 2 行" in error
    assert "已被其他城市计入" in error and "北京" not in error and "Traceback" not in error
    assert "本月车辆明细未作任何更改" in shown and 'id="job-roster"' in shown
    # Nothing of Shenzhen's file: no vehicle, not even the return it would have made.
    assert vehicle_count() == 1 and the_return() is None
    assert events("roster.replace") == ["beijing"]
    conflict = db.session.scalar(select(RosterConflict))
    assert (conflict.vin, conflict.city.code, conflict.username, conflict.source) == (
        make_vin(0), "440300", "shenzhen", "upload")
    assert conflict.holder_city.code == "110000" and conflict.holder_period == month
    client.post("/lang/en")
    status = client.get(f"/jobs/{job_id}/status").get_json()
    assert "nothing was saved" in status["error"] and "Already counted by another city" in (
        status["error"])
    auth.logout()
    auth.login("ministry1")  # the refused claim is on the ministry's conflicts list
    client.post("/lang/zh")
    conflicts = client.get("/progress/roster").get_data(as_text=True).split('id="conflicts"')[1]
    assert make_vin(0) in conflicts and "深圳" in conflicts and "shenzhen" in conflicts


def test_a_month_locked_since_the_check_is_refused_before_any_job(client, auth, setup):
    month = this_month()
    auth.login("shenzhen")
    page = checked_large_upload(client, rows_for(month, {("bus", "bev"): 2}))
    client.post(f"/returns/{month}", data=form_data(0, "submit", bus_bev=1, bus_all_new=1,
                                                      charging_points=1))
    assert the_return().status == "submitted"
    response = confirm(client, page)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/returns/{month}/roster")
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "月报已报送，车辆明细随之锁定" in shown
    assert jobs_of("roster_confirm") == [] and vehicle_count() == 0


def test_a_small_upload_is_still_saved_in_the_request(client, auth, setup):
    month = this_month()
    auth.login("shenzhen")  # under this module's ROSTER_JOB_MIN_BYTES (10**9)
    response = load(client, rows_for(month, {("bus", "bev"): 2}))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/returns/{month}/roster")
    assert vehicle_count() == 2 and job_count() == 0
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "车辆明细已保存：共 2 辆" in shown


# --- the summary workbook of many cities ------------------------------------------------------

def test_the_summary_of_many_cities_is_prepared_by_a_job(client, auth, setup):
    auth.login("ministry1")
    client.application.config["SUMMARY_JOB_MIN_CITIES"] = 20  # 25 pilot cities: "many"
    page = client.get("/progress/").get_data(as_text=True)
    assert 'id="prepare-summary"' in page and 'id="download-summary"' not in page
    direct = client.get("/excel/summary.xlsx?basis=verified")
    assert direct.status_code == 303 and "/progress/" in direct.headers["Location"]
    assert client.get("/api/v1/summary.xlsx").status_code == 200  # machines wait for it
    job_id = job_id_of(client.post("/excel/summary/prepare?basis=verified"))
    job = finished(job_id)
    assert job.status == "done" and job.done == job.total == 3
    download = client.get(f"/jobs/{job_id}/download", buffered=True)
    assert re.search(r'filename="fleet-summary-\d{4}-\d\d-verified.xlsx"',
                     download.headers["Content-Disposition"])
    book = load_workbook(io.BytesIO(download.data))
    assert "总览" in book.sheetnames[0] or len(book.sheetnames) == 5
    auth.logout()
    auth.login("shenzhen")  # a city's own summary is small: direct as before
    assert client.get("/excel/summary.xlsx").status_code == 200


# --- on an RQ worker --------------------------------------------------------------------------


def test_with_redis_a_job_waits_on_the_queue_for_a_worker(make_app, users):
    redis_client = redis_or_skip(REDIS_URL)
    prefix = f"fleet-test-{uuid.uuid4().hex[:12]}:"
    queue_name = f"fleet-test-{uuid.uuid4().hex[:12]}"
    app = make_app(REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=prefix, JOBS_QUEUE=queue_name)
    try:
        with app.app_context():
            client = app.test_client()
            client.post("/login", data={"username": "ministry1", "password": PASSWORD})
            job_id = job_id_of(client.post("/excel/summary/prepare"))
            assert background.queue(app).count == 1
            assert client.get(f"/jobs/{job_id}/status").get_json()["status"] == "queued"
            page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
            assert 'id="job-bar"' in page and 'id="refresh-link"' in page
            result = app.test_cli_runner().invoke(args=["fleet", "worker", "--burst",
                                                        "--simple"])
            assert result.exit_code == 0, result.output
            status = client.get(f"/jobs/{job_id}/status").get_json()
            assert status["status"] == "done", status
            assert client.get(f"/jobs/{job_id}/download").status_code == 200
    finally:
        forget_queue(redis_client, queue_name, prefix)


def test_with_redis_saving_a_large_upload_waits_for_a_worker_and_runs_once(make_app, setup):
    """On the queue, the second click meets the queued job (the same request key); after the
    worker, a third meets the job that took the file."""
    redis_client = redis_or_skip(REDIS_URL)
    prefix = f"fleet-test-{uuid.uuid4().hex[:12]}:"
    queue_name = f"fleet-test-{uuid.uuid4().hex[:12]}"
    app = make_app(REDIS_URL=REDIS_URL, REDIS_KEY_PREFIX=prefix, JOBS_QUEUE=queue_name,
                   ROSTER_JOB_MIN_BYTES=100)
    month = this_month()

    def work() -> None:
        result = app.test_cli_runner().invoke(args=["fleet", "worker", "--burst", "--simple"])
        assert result.exit_code == 0, result.output

    try:
        with app.app_context():
            client = app.test_client()
            client.post("/login", data={"username": "shenzhen", "password": PASSWORD})
            check = job_id_of(upload(client, csv_bytes(rows_for(month, {("bus", "bev"): 4}))))
            work()
            page = client.get(f"/jobs/{check}", follow_redirects=True).get_data(as_text=True)
            job_id = job_id_of(confirm(client, page))
            assert job_id_of(confirm(client, page)) == job_id
            assert background.queue(app).count == 1
            waiting = client.get(f"/jobs/{job_id}").get_data(as_text=True)
            assert 'id="job-bar"' in waiting and "车辆明细正在后台保存" in waiting
            assert vehicle_count() == 0
            work()
            assert client.get(f"/jobs/{job_id}/status").get_json()["status"] == "done"
            assert job_id_of(confirm(client, page)) == job_id
            assert vehicle_count() == 4 and events("roster.replace") == ["shenzhen"]
            assert len(jobs_of("roster_confirm")) == 1
    finally:
        forget_queue(redis_client, queue_name, prefix)
