"""Never a 500 on bad input: each case of the security review (NUL bytes, '--5', TRUE in a
number cell, integers beyond 64 bits, control characters and full-width digits in a city,
a 9,999-year window, an empty reason) answers 4xx with a message in the user's language and
changes nothing; then every URL parameter and every form field of the url map, as each
role, gets a set of hostile values (on SQLite and, with FLEET_TEST_DATABASE_URL, PostgreSQL).
"""

import hashlib
import html
import io
import re
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import pytest
from flask import Request
from sqlalchemy import func, select
from werkzeug.datastructures import ImmutableMultiDict

from fleet.domain import notices, returns, tokens
from fleet.domain.audit import Actor
from fleet.domain.cities import city_by_code, create_city, update_city
from fleet.domain.errors import DomainError
from fleet.domain.periods import add_months
from fleet.domain.programme import get_programme, update_programme
from fleet.domain.rules import parse_count
from fleet.extensions import db
from fleet.models import AuditEvent, utcnow

from .excel_helpers import fill
from .factories import PASSWORD, make_return
from .returns_helpers import form_data, the_return, this_month

ADMIN = Actor(None, "test", None, "system")
CONTROL_MESSAGE = "不接受控制字符"
REQUEST_CONTROL_MESSAGE = "请求中含有不被接受的控制字符"


def table_state() -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row of every table, read fresh (audit_event apart)."""
    db.session.rollback()
    state = {}
    for table in db.metadata.sorted_tables:
        if table.name == "audit_event":
            state[table.name] = tuple(db.session.execute(
                select(func.count(AuditEvent.id), func.coalesce(func.max(AuditEvent.id), 0))
            ).one())
            continue
        rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
        state[table.name] = (len(rows), digest)
    return state


def assert_unchanged(before: dict, context: str = "") -> None:
    """Every table as before; the audit log may only have grown (never lost a row)."""
    after = table_state()
    for name, value in before.items():
        if name == "audit_event":
            count, last_id = value
            kept = db.session.scalar(select(func.count(AuditEvent.id))
                                     .where(AuditEvent.id <= last_id))
            assert kept == count, f"audit rows lost after {context}"
        else:
            assert after[name] == value, f"table {name} changed after {context}"


def refused(response, status=400, message=REQUEST_CONTROL_MESSAGE):
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == status, (response.status_code, text[:300])
    assert message in text, text[:2000]
    return text


# --- each case of the review ----------------------------------------------------------------

def test_a_nul_byte_anywhere_is_refused_before_any_view(client, auth, setup):
    """NUL in the login name (before sign-in), the notes, a city name, the audit filter, a
    city code in a page or a file URL: 400 with a message, nothing stored or logged."""
    shenzhen = city_by_code(db.session, "440300")
    make_return(shenzhen, add_months(this_month(), -1), "submitted")
    before = table_state()
    refused(client.post("/login", data={"username": "\x00", "password": "x"}))
    assert db.session.scalar(select(func.count(AuditEvent.id))) == before["audit_event"][0]
    auth.login("shenzhen")
    refused(client.post(f"/returns/{this_month()}", data=form_data(0, notes="a\x00b")))
    refused(client.get("/progress/cities/44%000"))
    refused(client.get(f"/excel/returns/44%000/{add_months(this_month(), -1)}.xlsx"))
    auth.logout()
    auth.login("admin1")
    refused(client.post("/admin/cities/440300", data={
        "code": "440300", "name_zh": "深\x00圳市", "name_en": "Shenzhen",
        "province_zh": "广东省", "active": "y"}))
    auth.logout()
    auth.login("auditor1")  # the audit log moved to the auditor (/audit/)
    refused(client.get("/audit/?user=a%00b"))
    client.post("/lang/en")
    refused(client.get("/audit/?user=a%00b"), message="control characters (such as NUL)")
    assert the_return() is None
    assert city_by_code(db.session, "440300").name_zh == "深圳市"


def test_the_api_refuses_a_nul_in_json(client, auth, setup):
    auth.login("ministry1")
    response = client.get("/api/v1/progress?city=44%000")
    assert response.status_code == 400 and "NUL" in response.get_json()["detail"]


def test_numbers_are_ascii_whole_numbers_and_nothing_else():
    """The one parser of whole numbers (form, upload, API, programme, cities)."""
    for bad in ("--5", "-+5", "1e9", "１２", "TRUE", "FALSE", True, False, "9" * 100_000,
                "0x10", "1_000", "², ", "5-", float("nan"), float("inf"), object()):
        assert parse_count(bad) is None, bad
    assert parse_count(" 1,234 ") == 1234 and parse_count("-3") == -3
    assert parse_count(None) == 0 and parse_count("") == 0 and parse_count(7.0) == 7


def test_notes_refuse_control_characters_but_keep_their_lines():
    from fleet.domain.rules import parse_values

    for notes in ("a\x00b", "宁波\x0b市", "\x1b[31m"):
        result = parse_values({"notes": notes})
        assert [p.field for p in result.errors] == ["notes"], notes
    assert parse_values({"notes": "第一行\r\n第二行\t!"}).values.notes == "第一行\r\n第二行\t!"


def test_a_double_minus_in_the_return_form_is_a_field_error(client, auth, setup):
    auth.login("shenzhen")
    before = table_state()
    response = client.post(f"/returns/{this_month()}", data=form_data(0, bus_bev="--5"))
    text = refused(response, 422, "须为不小于 0 的整数")
    assert 'name="bus_bev"' in text and 'value="--5"' in text  # the form, shown again
    assert_unchanged(before)


def test_true_or_false_in_a_number_cell_of_an_upload_is_a_cell_error(client, auth, setup):
    from .test_excel_upload import cells_by_label, download_template, upload

    auth.login("shenzhen")
    template = download_template(client)
    at = cells_by_label(template)
    before = table_state()
    data = fill(template, {at[("城市公交", "纯电动")]: True,
                           at[("出租(含网约车)", "纯电动")]: "FALSE"})
    text = refused(upload(client, data), 422, "须为不小于 0 的整数")
    assert "TRUE" in text and "FALSE" in text and 'name="token"' not in text
    assert_unchanged(before)


@pytest.mark.parametrize("url, role", [
    ("/review/returns/99999999999999999999", "ministry1"),
    ("/review/returns/2147483648", "ministry1"),
    ("/review/returns/１２", "ministry1"),
    ("/admin/users/99999999999999999999", "admin1"),
    ("/admin/users/" + "9" * 5000, "admin1"),
])
def test_integers_beyond_the_database_in_a_url_are_not_found(client, auth, setup, url, role):
    auth.login(role)
    assert client.get(url).status_code == 404
    assert client.post(url + ("/approve" if "review" in url else "")).status_code in (404, 405)


def test_a_page_number_beyond_64_bits_shows_a_page(client, auth, setup):
    auth.login("auditor1")
    for page in (10**17, 10**30, -5, "x"):
        assert client.get(f"/audit/?page={page}").status_code == 200


def test_the_programme_is_bounded_in_the_domain_and_the_form_shows_it(client, auth, setup):
    auth.login("admin1")
    before = table_state()
    good = {"national_target": "700000", "first_period": "2025-01", "last_period": "2026-12",
            "due_day": "10"}
    cases = [
        ({"national_target": str(10**20)}, "national_target", "全国目标须为 1 至"),
        ({"national_target": "1e9"}, "national_target", "全国目标须为 1 至"),
        ({"national_target": "７００"}, "national_target", "全国目标须为 1 至"),
        ({"due_day": "--5"}, "due_day", "截止日须在"),
        ({"due_day": str(10**20)}, "due_day", "截止日须在"),
        ({"first_period": "0001-01", "last_period": "9999-12"}, "first_period", "报送期须在"),
        ({"first_period": "2025-01", "last_period": "2035-01"}, "last_period", "最长为 10 年"),
        ({"first_period": "２０２５-01"}, "first_period", "YYYY-MM"),
    ]
    for change, field, message in cases:
        text = refused(client.post("/admin/programme", data={**good, **change}), 422, message)
        assert f'name="{field}"' in text and "is-invalid" in text
    assert_unchanged(before)
    for change, field, _message in cases:
        with pytest.raises(DomainError) as error:
            update_programme(db.session, ADMIN, **{**good, **change})
        assert error.value.field == field
    db.session.rollback()
    # Ten years exactly is a window.
    update_programme(db.session, ADMIN, national_target=700_000, first_period="2025-01",
                     last_period="2034-12", due_day=10)
    db.session.commit()
    assert get_programme(db.session).last_period == "2034-12"


def test_city_names_refuse_control_characters_and_codes_are_ascii_digits(client, auth, setup):
    ningbo = city_by_code(db.session, "330200")
    assert ningbo is not None
    for name in ("宁波\x0b市", "宁波\n市", "宁波\x85市", " ", "\u3000\u200b", "宁" * 51):
        with pytest.raises(DomainError) as error:
            update_city(db.session, ADMIN, ningbo, name_zh=name)
        assert error.value.field == "name_zh"
    for code in ("１２３４５６", "12345６", "٤٤٠٣٠١", "44030", "4403011", "440301\x00"):
        with pytest.raises(DomainError) as error:
            create_city(db.session, ADMIN, code=code, name_zh="新城", name_en="New",
                        province_zh="省")
        assert error.value.field == "code"
    for target in (str(10**20), "--5", "1e9", "TRUE", -1):
        with pytest.raises(DomainError) as error:
            update_city(db.session, ADMIN, ningbo, nev_target=target)
        assert error.value.field == "nev_target"
    db.session.rollback()

    auth.login("admin1")
    before = table_state()
    base = {"code": "330200", "name_zh": "宁波市", "name_en": "Ningbo", "province_zh": "浙江省",
            "batch": "1", "active": "y"}
    refused(client.post("/admin/cities/330200", data={**base, "name_zh": "宁波\x0b市"}))
    refused(client.post("/admin/cities/330200", data={**base, "nev_target": str(10**20)}), 422,
            "目标须为 0 至")
    refused(client.post("/admin/cities/330200", data={**base, "batch": "--5"}), 422,
            "试点批次须为 1 至")
    refused(client.post("/admin/cities/new", data={**base, "code": "１２３４５６"}), 422,
            "6 位")
    refused(client.post("/admin/cities/new", data={**base, "code": "123456", "name_zh": ""}),
            422, "此项为必填项")
    assert_unchanged(before)
    # The national summary still downloads (it broke on a control character in a name).
    auth.logout()
    auth.login("ministry1")
    assert client.get("/excel/summary.xlsx").status_code == 200


def test_a_reason_must_have_visible_text(client, auth, setup):
    ret = make_return(city_by_code(db.session, "440300"), this_month(), "submitted")
    for reason in ("\x00", "   ", "\u3000\u200b\t", "\n\n"):
        with pytest.raises(DomainError) as error:
            returns.send_back(db.session, Actor(None, "m", None, "ministry"), ret, reason,
                              ret.version)
        assert error.value.field == "reason"
        db.session.rollback()
    auth.login("ministry1")
    before = table_state()
    text = refused(client.post(f"/review/returns/{ret.id}/send-back",
                               data={"version": ret.version, "reason": " \u3000 "}),
                   422, "请说明原因")
    assert 'name="reason"' in text and "is-invalid" in text
    refused(client.post(f"/review/returns/{ret.id}/reopen",
                        data={"version": ret.version, "reason": "\x00"}))
    assert_unchanged(before)
    assert the_return().status == "submitted"


def test_failed_forms_answer_422_and_show_the_form(client, auth, setup):
    response = client.post("/login", data={"username": "", "password": ""})
    assert response.status_code == 422 and 'name="username"' in response.get_data(as_text=True)
    auth.login("shenzhen")
    response = client.post("/account/password", data={
        "current_password": PASSWORD, "password": "short", "confirm": "short"})
    assert response.status_code == 422 and 'name="current_password"' in response.get_data(
        as_text=True)
    auth.logout()
    auth.login("admin1")
    viewer = setup["viewer"]
    response = client.post(f"/admin/users/{viewer.id}/password",
                           data={"reset-password": "weak"})
    text = refused(response, 422, "密码至少需要")
    assert 'name="display_name"' in text  # the account page, with both its forms
    assert client.get(f"/admin/users/{viewer.id}").status_code == 200


# --- every parameter and every field of the url map ------------------------------------------

HOSTILE = ("\x00", "宁波\x0b市", "--5", "1e9", str(10**20), "１２３４５６", "9" * 100_000, "TRUE")
# Refused in any field at all; the others are hostile to numbers, months, codes, choices and
# ids, but are fair text in a name, a note or a reason, and are sent only where they are not.
NEVER_TEXT = ("\x00", "宁波\x0b市", "9" * 100_000)
FREE_TEXT = {"notes", "reason", "display_name", "name_zh", "name_en", "province_zh",
             "username", "password", "current_password", "confirm", "reset-password",
             "name", "message"}
# An approval takes no reason: a hostile reason posted to it is an approval like any other.
# Where to go back after a reminder is only ever a path of this site (safe_next): a hostile
# one leads back to the grid, and the reminder, as rendered, is sent like any other.
IGNORED = {("review.approve", "reason"), ("progress.remind", "next")}

ASKED: set[str] = set()


class _RecordingArgs(ImmutableMultiDict):
    """The query parameters a view asks for, recorded (even when absent)."""

    def get(self, key, default=None, type=None):
        ASKED.add(key)
        return super().get(key, default, type)

    def __getitem__(self, key):
        ASKED.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        ASKED.add(key)
        return super().__contains__(key)

    def getlist(self, key, type=None):
        ASKED.add(key)
        return super().getlist(key, type)


class RecordingRequest(Request):
    parameter_storage_class = _RecordingArgs


class _Forms(HTMLParser):
    """The POST forms of a page: action (and formactions), fields as rendered."""

    def __init__(self, page_url: str):
        super().__init__()
        self.page_url, self.forms = page_url, []
        self._form = self._textarea = self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._form = {"actions": [a.get("action") or ""], "fields": {},
                          "files": [], "numeric": set(), "hidden": set(), "button": None}
            self.forms.append(self._form)
        if self._form is None:
            return
        name = a.get("name")
        if tag == "button":
            self._button(a, name)
        elif tag == "input" and name:
            self._input(a, name)
        elif tag == "textarea" and name:
            if "readonly" in a or "disabled" in a:
                self._form["hidden"].add(name)
            self._textarea = name
            self._form["fields"][name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            if self._select not in self._form["fields"] or "selected" in a:
                self._form["fields"][self._select] = a.get("value", "")

    def _button(self, a: dict, name: str | None) -> None:
        if a.get("formaction"):
            self._form["actions"].append(a["formaction"])
        if name and self._form["button"] is None:
            self._form["button"] = (name, a.get("value", ""))

    def _input(self, a: dict, name: str) -> None:
        kind = (a.get("type") or "text").lower()
        if kind == "file":
            self._form["files"].append(name)
        elif kind in ("checkbox", "radio"):
            if "checked" in a:
                self._form["fields"][name] = a.get("value", "y")
            self._form["hidden"].add(name)  # ticked, not typed: any value means "on"
        elif kind != "submit":
            self._form["fields"][name] = a.get("value") or ""
        if kind == "hidden" or "readonly" in a or "disabled" in a:
            self._form["hidden"].add(name)  # not typed by a person
        if a.get("inputmode") == "numeric" or kind == "number":
            self._form["numeric"].add(name)

    def handle_data(self, data):
        if self._textarea:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form" and self._form is not None:
            # No action: the page's own URL, unless every button says where it goes.
            actions = self._form["actions"]
            if not actions[0]:
                actions[:1] = [] if len(actions) > 1 else [self.page_url]
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def _url(rule, values: dict) -> str:
    """The rule's path with these argument values, quoted by hand (int ones may be text)."""
    def put(match):
        return quote(str(values[match.group(1)]), safe="")
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", put, rule.rule)


@pytest.fixture
def hostile_app(make_app):
    # (Few cities count as many, so the dashboard renders the summary job's form too.)
    app = make_app(WTF_CSRF_ENABLED=True, SUMMARY_JOB_MIN_CITIES=1)
    app.request_class = RecordingRequest
    with app.app_context():
        yield app


def _seed(users) -> dict:
    """Returns in every state a page can show, and the valid value of each URL argument."""
    from .returns_helpers import window_around_today

    window_around_today()
    shenzhen = city_by_code(db.session, "440300")
    month = this_month()
    submitted = make_return(shenzhen, add_months(month, -1), "submitted",
                            counts={"bus": {"bev": 3}})
    approved = make_return(shenzhen, add_months(month, -2), "approved",
                           counts={"taxi": {"bev": 5}})
    # A locked account, so that the users' page offers its unlock form.
    users["other_city"].locked_until = utcnow() + timedelta(hours=1)
    # An API token and a notice for everyone, so that their revoke and mark-read forms show.
    for user in users.values():
        tokens.create_token(db.session, Actor.system("test"), user, "ERP")
    notices.notify(db.session, list(users.values()), "approved",
                   {"city_code": "440300", "city_zh": "深圳市", "city_en": "Shenzhen",
                    "period": month}, return_id=approved.id)
    db.session.commit()
    return {"code": ["440300"], "period": [month, add_months(month, -1)],
            "return_id": [submitted.id, approved.id], "user_id": [users["viewer"].id],
            "kind": ["national"], "fmt": ["png"], "city": ["440300"], "token_id": [1],
            "scan_id": [1], "notice_id": [1], "upload_id": [1], "job_id": [1]}


def _signed_in(app, username):
    """A fresh client (its own cookies), signed in through the real form unless None."""
    client = app.test_client()
    if username is not None:
        token = _csrf(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": token})
        assert response.status_code == 302, username
    return client


def _csrf(page: str) -> str:
    return html.unescape(re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                                   page).group(1))


def _get_barrage(client, app, args, seen_forms, role) -> int:
    """Every GET rule: each argument and each query parameter the view reads, one hostile
    value at a time; returns the number of requests. Pages that answer 200 (with each valid
    value of their arguments: a submitted and an approved return...) give their POST forms."""
    sent = 0
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "bootstrap.static"):
            continue
        asked = {"next"} if rule.endpoint == "auth.login" else set()
        for valid in _combinations(rule, args):
            ASKED.clear()
            url = _url(rule, valid)
            baseline = client.get(url)
            assert baseline.status_code < 500, (role, url)
            asked |= ASKED
            if baseline.status_code == 200 and baseline.mimetype == "text/html":
                _harvest(adapter, seen_forms, url, baseline.get_data(as_text=True))
        before = table_state()
        valid = _combinations(rule, args)[0]
        url = _url(rule, valid)
        for value in HOSTILE:
            for name in rule.arguments:
                response = client.get(_url(rule, {**valid, name: value}))
                assert response.status_code < 500, (role, rule.rule, name, value[:20])
                sent += 1
            for key in asked:
                response = client.get(url, query_string={key: value})
                assert response.status_code < 500, (role, rule.rule, key, value[:20])
                sent += 1
        assert_unchanged(before, f"GET {rule.rule} as {role}")
    return sent


def _harvest(adapter, seen_forms: dict, url: str, page: str) -> None:
    """The POST forms of a page, one per endpoint and set of fields (the same form of two
    months, or of two users, is tried once)."""
    parser = _Forms(url)
    parser.feed(page)
    for form in parser.forms:
        for action in form["actions"]:
            endpoint = adapter.match(urlsplit(action).path, method="POST")[0]
            seen_forms.setdefault((endpoint, tuple(sorted(form["fields"]))), (action, form))


def _combinations(rule, args) -> list[dict]:
    """One set of valid arguments per value listed for any of them (e.g. both returns)."""
    names = sorted(rule.arguments)
    if not names:
        return [{}]
    out = []
    for name in names:
        for value in args[name]:
            combo = {n: args[n][0] for n in names}
            combo[name] = value
            if combo not in out:
                out.append(combo)
    return out


def _post_barrage(client, seen_forms, role) -> tuple[int, set[str]]:
    """Every POST form seen: each field, one hostile value at a time, the others as rendered.
    As nothing may change, the rendered form (its version, its token) stays current."""
    sent, endpoints = 0, set()
    before = table_state()
    for (endpoint, _fields), (action, form) in seen_forms.items():
        endpoints.add(endpoint)
        # Logout: only its token is tried (a valid one would sign out, which is its job).
        names = ["csrf_token"] if endpoint == "auth.logout" else [*form["fields"],
                                                                  *form["files"]]
        for name in names:
            if (endpoint, name) in IGNORED:
                continue
            text_field = name in FREE_TEXT and name not in form["numeric"]
            for value in (NEVER_TEXT if text_field else HOSTILE):
                response = client.post(action, data=_filled(form, name, value),
                                       content_type="multipart/form-data")
                context = f"POST {action} {name}={value[:20]!r} as {role}"
                assert response.status_code < 500, context
                # What a person types is refused with 4xx; a tampered hidden or read-only
                # field (the version, the upload's token, a locked return's numbers) may
                # instead lead back to the page, with nothing changed.
                if name not in form["hidden"] and (value in NEVER_TEXT
                                                   or name in form["numeric"]):
                    assert 400 <= response.status_code < 500, context
                sent += 1
            assert_unchanged(before, f"POST {action} {name}=<hostile> as {role}")
    return sent, endpoints


def _filled(form: dict, name: str, value: str) -> dict:
    """The form as rendered (its first named button pressed), with one hostile field."""
    data = dict(form["fields"])
    if form["button"]:
        data[form["button"][0]] = form["button"][1]
    for file_field in form["files"]:
        data[file_field] = (io.BytesIO(b"PK\x03\x04"), "template.xlsx")
    if name in form["files"]:
        data[name] = (io.BytesIO(value.encode()), value[:100] + ".xlsx")
    else:
        data[name] = value
    return data


def test_hostile_values_in_every_parameter_and_field_change_nothing(hostile_app, users):
    """The url map walked as nobody and as each role: no 5xx, and no table changes (the
    audit log may grow). Every POST endpoint is reached through a form a page rendered."""
    app = hostile_app
    args = _seed(users)
    post_endpoints, requests = set(), 0
    # Nobody, then one user of each role the fixture makes (the other city's user is locked).
    roles = [None] + [user.username for key, user in users.items() if key != "other_city"]
    for role in roles:
        client = _signed_in(app, role)
        if role == "shenzhen":  # a checked upload renders the confirmation form
            from .test_excel_upload import download_template, filled_by_a_clerk

            data = filled_by_a_clerk(download_template(client))
            upload_page = f"/returns/{this_month()}/upload"
            token = _csrf(client.get(upload_page).get_data(as_text=True))
            preview = client.post(upload_page, data={"csrf_token": token,
                                                     "file": (io.BytesIO(data), "a.xlsx")},
                                  content_type="multipart/form-data")
            assert preview.status_code == 200
        seen: dict = {}
        requests += _get_barrage(client, app, args, seen, role)
        if role == "shenzhen":
            _harvest(app.url_map.bind("localhost"), seen, upload_page,
                     preview.get_data(as_text=True))
        sent, endpoints = _post_barrage(client, seen, role)
        requests += sent
        post_endpoints |= endpoints
    # The pages' forms; the JSON API takes no form and is not reached through a page.
    pages = [r for r in app.url_map.iter_rules() if not r.rule.startswith("/api/")]
    # The roster's confirm and remove forms exist only after a roster upload / with a vehicle
    # in a draft month: their refusals are tested in tests/test_roster.py.
    posts = {r.endpoint for r in pages if "POST" in r.methods and "GET" not in r.methods
             and r.endpoint not in ("returns.roster_confirm", "returns.roster_remove",
                                    "returns.check")}  # (the form's JSON check: its tests)
    forms = {r.endpoint for r in pages if {"GET", "POST"} <= r.methods}
    assert posts <= post_endpoints, f"no page offers a form for {posts - post_endpoints}"
    assert forms - {"main.set_language"} <= post_endpoints
    assert requests > 1000


def test_a_forged_forwarded_address_is_not_stored_as_one(make_app):
    """Behind a trusted proxy the address comes from a header: text that is not an address
    (longer than the audit column, too) is recorded as no address, never a 500."""
    from .factories import load_cities, make_user

    app = make_app(TRUSTED_PROXIES=1)
    with app.app_context():
        load_cities()
        make_user("viewer1", "viewer")
        client = app.test_client()
        response = client.post("/login", data={"username": "viewer1", "password": "wrong"},
                               headers={"X-Forwarded-For": "not-an-address-" + "x" * 100})
        assert response.status_code == 401
        response = client.post("/login", data={"username": "viewer1", "password": PASSWORD},
                               headers={"X-Forwarded-For": "203.0.113.9"})
        assert response.status_code == 302
        events = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action.in_(("auth.login_failed", "auth.login")))
            .order_by(AuditEvent.id)).all()
        assert [e.ip for e in events] == [None, "203.0.113.9"]
