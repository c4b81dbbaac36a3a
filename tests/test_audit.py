"""The audit log as an auditor uses it (等保 8.1.4.3): only the auditor reads it, it only grows,
it records downloads and refusals, stores no raw control characters, and reads in plain
Chinese (or English) with filters, pages and a CSV file; the review page tells the same
history."""

import ast
import codecs
import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from fleet.domain import audit
from fleet.domain.audit import Actor, record_event
from fleet.domain.cities import city_by_code
from fleet.domain.reference import ROLES
from fleet.extensions import db
from fleet.models import AuditEvent, User

from .factories import PASSWORD, make_return, make_user
from .returns_helpers import form_data, the_return, this_month

ROOT = Path(__file__).resolve().parent.parent
ROLE_NAMES = ["admin", "auditor", "ministry", "viewer", "city"]


def events(action: str | None = None) -> list[AuditEvent]:
    db.session.expire_all()
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))


def text_of(response) -> str:
    return response.get_data(as_text=True)


def visible(page: str) -> str:
    """The page's text as a reader sees it: no tags, no attributes."""
    return re.sub(r"<[^>]+>", " ", page)


# --- the role ---------------------------------------------------------------------------------

def test_auditor_is_in_the_one_list_of_roles(app):
    from fleet.admin.forms import role_choices
    from fleet.cli import create_user_command

    assert "auditor" in ROLES and "admin" in ROLES
    role_option = next(p for p in create_user_command.params if p.name == "role")
    assert tuple(role_option.type.choices) == ROLES
    assert [code for code, _ in role_choices("zh")] == list(ROLES)
    assert dict(role_choices("zh"))["auditor"] == "审计管理员"
    assert dict(role_choices("zh"))["admin"] == "系统管理员"
    check = next(c for c in User.__table__.constraints if c.name == "ck_user_role")
    assert re.findall(r"'(\w+)'", str(check.sqltext)) == list(ROLES)
    migration = (ROOT / "migrations/versions/0008_auditor_role.py").read_text()
    assert "'auditor'" in migration


@pytest.mark.parametrize("role", ["admin", "ministry", "viewer", "city"])
def test_only_the_auditor_reads_the_audit_log(client, auth, users, role):
    auth.login(users[role].username)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/audit.csv").status_code == 403
    assert 'href="/audit/"' not in text_of(client.get("/progress/" if role != "city"
                                                      else "/returns"))
    assert events("access.denied")[-1].username == users[role].username


def test_auditor_starts_on_the_audit_log_and_sees_it_in_the_menu(client, auth, users):
    auth.login("auditor1")
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/audit/")
    page = text_of(client.get("/audit/"))
    assert 'href="/audit/"' in page and "审计日志" in page and "审计管理员" in page
    # The auditor does not manage accounts, cities or returns.
    for url in ("/admin/users", "/admin/programme", "/review/", "/returns"):
        assert client.get(url).status_code == 403, url


def test_admin_creates_an_auditor_account(client, auth, users):
    auth.login("admin1")
    assert "审计管理员" in text_of(client.get("/admin/users/new"))
    response = client.post("/admin/users/new", data={
        "username": "shenji", "display_name": "审计员", "role": "auditor", "city": "",
        "password": "Audit-Passw0rd-2026"})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "shenji"))
    assert user.role == "auditor" and user.city_id is None
    assert "审计管理员" in text_of(client.get("/admin/users"))
    # An auditor with a city is refused, and nothing is created.
    response = client.post("/admin/users/new", data={
        "username": "shenji2", "role": "auditor", "city": "440300",
        "password": "Audit-Passw0rd-2026"})
    assert response.status_code == 422 and "只有城市用户" in text_of(response)
    assert db.session.scalar(select(User).where(User.username == "shenji2")) is None


def test_cli_creates_an_auditor(runner, cities):
    result = runner.invoke(args=["fleet", "create-user", "shenji", "--role", "auditor",
                                 "--password-stdin"], input="Audit-Passw0rd-2026\n")
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User.role).where(User.username == "shenji")) == "auditor"


# --- the log only grows -----------------------------------------------------------------------

def _url(rule, values: dict) -> str:
    args = {}
    for name in rule.arguments:
        numeric = isinstance(rule._converters.get(name), IntegerConverter)
        args[name] = values.get(name, values["*int" if numeric else "*"])
    return rule.build(args, append_unknown=False)[1]


def _rows() -> list[tuple]:
    db.session.expire_all()
    return [tuple(row) for row in db.session.execute(
        select(AuditEvent.__table__).order_by(AuditEvent.id))]


def test_no_route_updates_or_deletes_an_audit_row(app, client, auth, setup):
    shenzhen = city_by_code(db.session, "440300")
    ret = make_return(shenzhen, this_month(), "submitted", {"bus": {"bev": 3}})
    victim = make_user("victim", "viewer")
    values = {"period": this_month(), "code": "440300", "user_id": victim.id,
              "return_id": ret.id, "kind": "national", "fmt": "png", "*int": 1, "*": "x"}
    data = {**form_data(0, "save", bus_bev=1), "submit": "1", "reason": "r", "token": "x",
            "username": "u-" + "x" * 5, "password": "x", "role": "viewer", "city": "",
            "national_target": "1", "first_period": "2025-01", "last_period": "2026-12",
            "due_day": "10", "name_zh": "x", "name_en": "x", "province_zh": "x",
            "current_password": "x", "new_password": "x", "confirm": "x"}
    posts = [r for r in app.url_map.iter_rules() if "POST" in r.methods]
    assert len(posts) >= 10
    before = _rows()
    for role in [None, *ROLE_NAMES]:
        for rule in posts:
            if role:
                auth.login(setup[role].username)
            response = client.post(_url(rule, values), data=data)
            assert response.status_code < 500, (role, rule.rule)
            after = _rows()
            assert after[:len(before)] == before, (role, rule.rule)
            before = after
    assert len(before) > 50
    # Not even the ORM can change or delete one.
    first = db.session.get(AuditEvent, before[0][0])
    first.detail = "changed"
    with pytest.raises(audit.AuditImmutable):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, before[0][0]))
    with pytest.raises(audit.AuditImmutable):
        db.session.flush()
    db.session.rollback()


# --- what is recorded -------------------------------------------------------------------------

def test_downloads_are_recorded_with_the_file(client, auth, setup):
    shenzhen = city_by_code(db.session, "440300")
    ret = make_return(shenzhen, this_month(), "submitted", {"bus": {"bev": 3}})
    auth.login("shenzhen")
    assert client.get(f"/returns/{this_month()}/template.xlsx").status_code == 200
    assert client.get(f"/excel/returns/440300/{this_month()}.xlsx").status_code == 200
    assert client.get("/excel/summary.xlsx").status_code == 200
    auth.logout()
    auth.login("ministry1")
    assert client.get("/excel/flat.csv").status_code == 200
    assert client.get("/api/v1/summary.xlsx").status_code in (200, 404)
    assert client.get("/progress/charts/national.png").status_code == 200  # not a file
    taken = [(e.username, e.target_type, e.target_id, e.detail)
             for e in events("file.download")]
    assert taken[0] == ("shenzhen", "month", f"440300 {this_month()}",
                        f"fleet-template-440300-{this_month()}.xlsx")
    assert taken[1] == ("shenzhen", "return", str(ret.id),
                        f"fleet-return-440300-{this_month()}-submitted.xlsx")
    assert taken[2][:3] == ("shenzhen", "city", "440300")
    assert taken[2][3].startswith("fleet-summary-440300-")
    assert taken[3][0] == "ministry1" and taken[3][3].startswith("fleet-data-")
    assert not any(t[3].endswith(".png") for t in taken)


def test_refused_access_is_recorded(client, auth, setup):
    auth.login("shenzhen")
    assert client.get("/progress/cities/110000").status_code == 404  # Beijing's page
    assert client.get(f"/excel/returns/110000/{this_month()}.xlsx").status_code == 404
    assert client.get("/api/v1/progress?city=110000").status_code == 404
    assert client.get("/review/").status_code == 403  # wrong role
    assert client.get("/progress/charts/cities.png").status_code == 403
    refused = events("access.denied")
    assert [e.detail.split("?")[0] for e in refused] == [
        "GET /progress/cities/110000", f"GET /excel/returns/110000/{this_month()}.xlsx",
        "GET /api/v1/progress", "GET /review/", "GET /progress/charts/cities.png"]
    assert {e.username for e in refused} == {"shenzhen"}


def test_csrf_failures_are_recorded(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        make_user("csrfuser", "viewer")
        client = app.test_client()
        response = client.post("/login", data={"username": "csrfuser", "password": PASSWORD})
        assert response.status_code == 400
        failed = events("security.csrf_failed")
        assert len(failed) == 1 and failed[0].detail.startswith("POST /login")
        assert "CSRF" in failed[0].detail
        assert not events("auth.login")


def test_refused_returns_and_uploads_are_recorded(client, auth, setup):
    auth.login("shenzhen")
    month = this_month()
    response = client.post(f"/returns/{month}", data=form_data(0, "save", bus_bev=-5,
                                                               taxi_bev="abc"))
    assert response.status_code in (200, 422)
    assert the_return() is None
    invalid = events("return.invalid")
    assert len(invalid) == 1
    assert (invalid[0].target_type, invalid[0].target_id) == ("month", f"440300 {month}")
    assert invalid[0].after == {"bus_bev": "-5", "taxi_bev": "abc"}
    assert "城市公交 · 纯电动" in invalid[0].detail
    response = client.post(f"/returns/{month}/upload",
                           data={"file": (io.BytesIO(b"not a workbook"), "月报.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    refused = events("upload.refused")
    assert len(refused) == 1 and refused[0].detail.startswith("月报.xlsx: ")
    assert "Excel" in refused[0].detail
    response = client.post(f"/returns/{month}/upload", data={},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and len(events("upload.refused")) == 2


def test_control_characters_are_escaped_when_stored(client, auth, users):
    actor = Actor(None, "evil\r\nuser", "1.2.3.4")
    record_event(db.session, actor, "user.update", "user", "5\x00", {"name": "a\nb"},
                 {"name": "c\x0bd\\e", "a\u2028": ["x\ty"]}, detail="line1\r\nforged\x00\x7f")
    db.session.commit()
    auth.login("nobody\r\n2026-01-01 admin1 user.create", "Wrong-Passw0rd")
    stored = events()
    first = stored[-2]
    assert first.username == "evil\\r\\nuser"
    assert first.target_id == "5\\x00"
    assert first.before == {"name": "a\\nb"}
    assert first.after == {"name": "c\\x0bd\\\\e", "a\\u2028": ["x\\ty"]}
    assert first.detail == "line1\\r\\nforged\\x00\\x7f"
    assert stored[-1].action == "auth.login_failed"
    assert stored[-1].username == "nobody\\r\\n2026-01-01 admin1 user.create"
    assert audit.escape_text("深圳市 =1") == "深圳市 =1"
    for e in stored:
        for text in (e.username, e.detail, e.target_id, str(e.before), str(e.after)):
            assert not re.search(r"[\x00-\x1f\x7f]", text), text


def test_every_recorded_action_has_a_label():
    """Every action code written in fleet/ (record_event, audit_request) reads in Chinese and
    English on the log."""
    codes = set()
    for path in (ROOT / "fleet").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                args = [a for a in node.args if isinstance(a, ast.Constant)
                        and isinstance(a.value, str) and re.fullmatch(r"[a-z]+\.[a-z_]+",
                                                                     a.value)]
                if name in ("record_event", "audit_request", "_audit_upload",
                            "_audit_refusal") and args:
                    codes.add(args[0].value)
    assert {"user.create", "return.submit", "file.download", "access.denied",
            "return.invalid", "upload.refused", "security.csrf_failed"} <= codes
    assert codes <= set(audit.ACTIONS), codes - set(audit.ACTIONS)


# --- reading the log --------------------------------------------------------------------------

def _a_few_changes(client, auth):
    auth.login("admin1")
    client.post("/admin/users/new", data={
        "username": "chenjing", "display_name": "陈静", "role": "ministry", "city": "",
        "password": "Chen-Passw0rd-2026"})
    client.post("/admin/cities/440300", data={
        "name_zh": "深圳市", "name_en": "Shenzhen", "province_zh": "广东省", "batch": "1",
        "nev_target": "1000", "active": "y"})
    chen = db.session.scalar(select(User).where(User.username == "chenjing"))
    client.post(f"/admin/users/{chen.id}", data={"display_name": "陈静", "role": "viewer",
                                                 "city": "", "active": "y"})
    auth.logout()


def test_the_log_reads_in_plain_chinese(client, auth, users):
    _a_few_changes(client, auth)
    auth.login("auditor1")
    page = visible(text_of(client.get("/audit/")))
    assert "创建用户" in page and "修改城市" in page and "修改用户" in page and "登录" in page
    assert "深圳市 (440300)" in page  # the record named, not "city 440300"
    assert "chenjing (陈静)" in page  # not "user 7"
    assert "新能源汽车目标: — → 1,000" in " ".join(page.split())
    assert "角色: 部级审核人员 → 只读用户" in " ".join(page.split())
    assert "姓名: — → 陈静" in " ".join(page.split())
    for raw in ("user.create", "city.update", "\\u", "{", "nev_target"):
        assert raw not in page, raw
    client.get("/lang/en")
    page = " ".join(visible(text_of(client.get("/audit/"))).split())
    assert "User created" in page and "Role: Ministry reviewer → Viewer (read-only)" in page
    assert "NEV target: — → 1,000" in page and "Shenzhen (440300)" in page


def test_filters_by_user_action_record_and_dates(client, auth, setup):
    _a_few_changes(client, auth)
    shenzhen = city_by_code(db.session, "440300")
    month = this_month()
    auth.login("shenzhen")
    client.post(f"/returns/{month}", data=form_data(0, "save", bus_bev=-1))
    client.post(f"/returns/{month}", data=form_data(0, "submit", bus_bev=4, bus_all_new=4))
    auth.logout()
    make_return(city_by_code(db.session, "110000"), month, "draft")
    auth.login("auditor1")

    def rows(**args):
        response = client.get("/audit/", query_string=args)
        assert response.status_code == 200
        return re.findall(r"<tr><td class=\"text-nowrap\">.*?</tr>", text_of(response), re.S)

    assert all("admin1" in r for r in rows(user="admin1")) and len(rows(user="admin1")) >= 4
    assert all("陈静" in r or "chenjing" in r for r in rows(user="陈静"))
    assert len(rows(action="user.create")) == 1
    assert len(rows(user="ADMIN1", action="city.update")) == 1
    # A record by name: the city, its returns and its months; a user by name.
    shenzhen_rows = rows(record="深圳")
    assert shenzhen_rows and all("深圳市" in r for r in shenzhen_rows)
    assert any("报送月报" in r for r in shenzhen_rows)
    assert any("月报未通过校验" in r for r in shenzhen_rows)
    with_month = rows(record=f"深圳 {month}")
    assert with_month and all("深圳市 · " in r for r in with_month)
    assert rows(record="chenjing") and all("chenjing" in r for r in rows(record="chenjing"))
    assert rows(record="没有这个") == []
    ret = the_return()
    assert len(rows(type="return", id=str(ret.id))) == len(
        [e for e in events() if e.target_type == "return" and e.target_id == str(ret.id)])
    assert shenzhen.code  # (used above by name)
    # Dates are Beijing dates; a range in the future holds nothing.
    today = audit.local_date_of(events()[-1].at)
    assert rows(**{"from": today.isoformat(), "to": today.isoformat()})
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert rows(**{"from": tomorrow}) == []
    response = client.get("/audit/", query_string={"from": "2026-13-01"})
    assert response.status_code == 400 and "YYYY-MM-DD" in text_of(response)
    response = client.get("/audit/", query_string={"from": "2026-03-02", "to": "2026-03-01"})
    assert response.status_code == 400
    # Hostile filter values never a 500: a NUL is refused before any view (400), the rest
    # is searched for as text.
    assert client.get("/audit/", query_string={"user": "a\x00b"}).status_code == 400
    for value in ("x" * 100_000, "１２３４５６", "%", "_"):
        assert client.get("/audit/", query_string={"user": value, "record": value,
                                                   "action": value}).status_code == 200


def test_pages_are_bounded(client, auth, users):
    for n in range(audit.PER_PAGE * 2 + 5):
        record_event(db.session, Actor.system("test"), "city.update", "city", "440300",
                     {"batch": n}, {"batch": n + 1})
    db.session.commit()
    auth.login("auditor1")
    first = text_of(client.get("/audit/"))
    assert "第 1 页，共 3 页" in first or "page 1 of 3" in first
    assert "batch" not in visible(first) and "试点批次" in first
    last = text_of(client.get("/audit/?page=3"))
    for huge in ("100000000000000000", str(10**17), "99999999999999999999999", "-1", "abc",
                 "１"):
        response = client.get("/audit/", query_string={"page": huge})
        assert response.status_code == 200, huge
    assert "共 3 页" in text_of(client.get("/audit/?page=100000000000000000"))
    assert "试点批次: 0 → 1" in " ".join(visible(last).split())
    page_of_huge = text_of(client.get("/audit/?page=99999999999999999999999"))
    assert "第 3 页" in page_of_huge


def test_csv_download(client, auth, users):
    _a_few_changes(client, auth)
    record_event(db.session, Actor.system("test"), "city.update", "city", "440300",
                 detail="=HYPERLINK(\"http://evil.example\")")
    db.session.commit()
    auth.login("auditor1")
    response = client.get("/audit/audit.csv", query_string={"action": "city.update"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "fleet-audit-log.csv" in response.headers["Content-Disposition"]
    assert response.data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["时间（北京时间）", "用户", "地址", "操作"]
    assert len(rows) == 3 and all(r[3] == "修改城市" for r in rows[1:])
    assert rows[1][8] == "'=HYPERLINK(\"http://evil.example\")"
    assert rows[2][6] == "深圳市 (440300)" and "新能源汽车目标: — → 1,000" in rows[2][7]
    # The download itself is in the log.
    assert events("file.download")[-1].username == "auditor1"
    assert client.get("/audit/audit.csv?from=bad").status_code == 400


# --- the review page --------------------------------------------------------------------------

def test_review_page_shows_the_readable_history(client, auth, setup):
    month = this_month()
    auth.login("shenzhen")
    client.post(f"/returns/{month}", data=form_data(0, "submit", bus_bev=4, bus_all_new=4))
    auth.logout()
    ret = the_return()
    auth.login("ministry1")
    client.post(f"/review/returns/{ret.id}/send-back",
                data={"reason": "公交数字有误", "version": str(ret.version)})
    page = text_of(client.get(f"/review/returns/{ret.id}"))
    history = " ".join(visible(page.split('id="history"')[1].split("</ul>\n")[0]).split())
    assert "新建月报" in history and "报送月报" in history and "退回城市" in history
    assert "状态: 已提交 → 已退回" in history
    assert "原因: — → 公交数字有误" in history
    assert "城市公交 · 纯电动: — → 4" in history or "城市公交 · 纯电动: 0 → 4" in history
    assert "return.submit" not in page and "return.send_back" not in page


def test_the_log_page_runs_the_same_queries_for_few_and_many_events(app, client, auth, setup):
    from .test_progress_queries import counting

    shenzhen = city_by_code(db.session, "440300")
    returns = [make_return(shenzhen, f"2024-{m:02d}", "draft").id for m in range(1, 13)]
    auth.login("auditor1")

    def queries() -> int:
        with counting(db.engine) as statements:
            assert client.get("/audit/").status_code == 200
        return len(statements)

    def add(n: int) -> None:
        for i in range(n):
            record_event(db.session, Actor.system("test"), "return.save", "return",
                         returns[i % 12], {"bus_bev": i}, {"bus_bev": i + 1})
            record_event(db.session, Actor.system("test"), "user.update", "user",
                         setup["viewer"].id, {"role": "viewer"}, {"role": "ministry"})
            record_event(db.session, Actor.system("test"), "city.update", "city", "110000")
        db.session.commit()

    add(2)
    few = queries()
    add(40)
    assert queries() == few


def test_every_field_of_the_audited_records_has_a_label(app, runner, users):
    """The fields that users, cities, the programme, returns and the demo write into the log
    are all named in Chinese, never shown as code."""
    from fleet.domain.rules import NUMBER_FIELDS

    result = runner.invoke(args=["fleet", "demo", "--through", "2025-03"])
    assert result.exit_code == 0, result.output
    keys = set()
    for e in events():
        for values in (e.before, e.after):
            keys |= set(values or {})
    assert {"name_zh", "pilot_nev_target", "nev_target", "seed", "returns"} <= keys
    from fleet.domain.accounts import _snapshot as user_fields
    from fleet.domain.programme import get_programme

    keys |= set(user_fields(users["city"])) | {"national_target", "first_period", "last_period",
                                               "due_day", "demo_data"}
    assert get_programme(db.session).demo_data
    for key in keys | set(NUMBER_FIELDS) | {"status", "reason", "notes"}:
        assert audit.field_name(key, "zh") != key, key
        assert audit.field_name(key, "en") != key, key
