"""Admin user, city and programme management, all audited."""

from sqlalchemy import select

from fleet.domain.cities import city_by_code
from fleet.domain.programme import get_programme
from fleet.extensions import db
from fleet.models import AuditEvent, User

from .factories import PASSWORD


def last_event(action):
    return db.session.scalar(select(AuditEvent).where(AuditEvent.action == action)
                             .order_by(AuditEvent.id.desc()))


def user(username):
    return db.session.scalar(select(User).where(User.username == username))


def test_admin_creates_a_city_user_who_must_change_the_password(client, auth, users):
    auth.login("admin1")
    response = client.post("/admin/users/new", data={
        "username": "wuxi_clerk", "display_name": "王小明", "role": "city", "city": "320200",
        "password": "Initial-Pass1"})
    assert response.status_code == 302
    created = user("wuxi_clerk")
    assert created.city.code == "320200" and created.must_change_password
    assert created.password_hash != "Initial-Pass1"
    event = last_event("user.create")
    assert event.username == "admin1" and event.after["city"] == "320200"
    assert event.ip == "127.0.0.1"
    assert "wuxi_clerk" in client.get("/admin/users").get_data(as_text=True)


def test_bad_user_input_changes_nothing(client, auth, users):
    auth.login("admin1")
    before = db.session.scalar(select(db.func.count(User.id)))
    cases = [
        ({"username": "shenzhen", "role": "viewer", "city": "", "password": "Initial-Pass1"},
         "该用户名已被使用"),
        ({"username": "weakling", "role": "viewer", "city": "", "password": "abc"},
         "密码至少需要"),
        ({"username": "nocity", "role": "city", "city": "", "password": "Initial-Pass1"},
         "城市用户必须隶属于一个城市"),
        ({"username": "minwithcity", "role": "ministry", "city": "440300",
          "password": "Initial-Pass1"}, "只有城市用户隶属于城市"),
        ({"username": "alllower", "role": "viewer", "city": "", "password": "alllowercase"},
         "密码须至少包含"),
    ]
    for data, message in cases:
        response = client.post("/admin/users/new", data=data)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True), message
    assert db.session.scalar(select(db.func.count(User.id))) == before


def test_admin_deactivates_a_user_and_resets_a_password(client, auth, users):
    auth.login("admin1")
    target = users["other_city"]
    response = client.post(f"/admin/users/{target.id}", data={
        "display_name": "", "role": "city", "city": "110000", "active": ""})
    assert response.status_code == 302
    assert user("beijing").active is False
    assert last_event("user.update").after == {"active": False}
    response = client.post(f"/admin/users/{target.id}/password",
                           data={"reset-password": "Reset-Pass-42"})
    assert response.status_code == 302
    assert user("beijing").must_change_password
    assert last_event("user.reset_password").target_id == str(target.id)
    auth.logout()
    assert "账号已停用" in auth.login("beijing", "Reset-Pass-42").get_data(as_text=True)


def test_admin_cannot_disable_itself(client, auth, users):
    auth.login("admin1")
    response = client.post(f"/admin/users/{users['admin'].id}", data={
        "role": "admin", "city": "", "active": ""})
    assert "不能停用自己的账号" in response.get_data(as_text=True)
    assert user("admin1").active


def test_admin_sets_a_city_target(client, auth, users):
    auth.login("admin1")
    response = client.post("/admin/cities/440300", data={
        "code": "999999", "name_zh": "深圳市", "name_en": "Shenzhen", "province_zh": "广东省",
        "batch": "1", "nev_target": "48000", "active": "y"})
    assert response.status_code == 302
    city = city_by_code(db.session, "440300")
    assert city.nev_target == 48000
    assert city_by_code(db.session, "999999") is None  # the code is never edited
    event = last_event("city.update")
    assert event.before == {"nev_target": None} and event.after == {"nev_target": 48000}
    page = client.get("/admin/cities").get_data(as_text=True)
    assert "48,000" in page


def test_admin_adds_and_deactivates_a_city(client, auth, users):
    auth.login("admin1")
    data = {"code": "330100", "name_zh": "杭州市", "name_en": "Hangzhou",
            "province_zh": "浙江省", "batch": "3", "nev_target": "", "active": "y"}
    assert client.post("/admin/cities/new", data=data).status_code == 302
    assert "已存在" in client.post("/admin/cities/new", data=data).get_data(as_text=True)
    assert "6 位" in client.post("/admin/cities/new", data={**data, "code": "33010"}) \
        .get_data(as_text=True)
    client.post("/admin/cities/330100", data={**data, "active": ""})
    assert city_by_code(db.session, "330100").active is False
    assert last_event("city.create").after["name_zh"] == "杭州市"


def test_admin_edits_the_programme(client, auth, users):
    auth.login("admin1")
    response = client.post("/admin/programme", data={
        "national_target": "750000", "first_period": "2025-01", "last_period": "2026-12",
        "due_day": "15"})
    assert response.status_code == 302
    programme = get_programme(db.session)
    assert (programme.national_target, programme.due_day) == (750000, 15)
    event = last_event("programme.update")
    assert event.before == {"national_target": 700000, "due_day": 10}
    bad = client.post("/admin/programme", data={
        "national_target": "750000", "first_period": "2026-12", "last_period": "2025-01",
        "due_day": "10"})
    assert "首个月份不得晚于最后月份" in bad.get_data(as_text=True)
    bad = client.post("/admin/programme", data={
        "national_target": "750000", "first_period": "2025-13", "last_period": "2026-12",
        "due_day": "10"})
    assert "YYYY-MM" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert get_programme(db.session).first_period == "2025-01"


def test_password_hashes_are_not_plain(app, users):
    assert users["city"].password_hash != PASSWORD
    assert users["city"].password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_admin_sets_the_month_a_roster_is_required_from(client, auth, setup):
    from .returns_helpers import form_data, the_return, this_month

    month = this_month()
    programme = get_programme(db.session)
    good = {"national_target": "700000", "first_period": programme.first_period,
            "last_period": programme.last_period, "due_day": "10"}
    auth.login("admin1")
    assert 'name="roster_required_from"' in client.get("/admin/programme").get_data(
        as_text=True)
    for bad, message in (("2026-3x", "YYYY-MM"), ("２０２６-03", "YYYY-MM"),
                         ("2099-01", "须在报送期内")):
        refused = client.post("/admin/programme", data={**good, "roster_required_from": bad})
        text = refused.get_data(as_text=True)
        assert refused.status_code == 422 and message in text, bad
        assert 'name="roster_required_from"' in text.split("is-invalid")[1].split(">")[0]
    db.session.expire_all()
    assert get_programme(db.session).roster_required_from is None
    saved = client.post("/admin/programme", data={**good, "roster_required_from": month})
    assert saved.status_code == 302
    db.session.expire_all()
    assert get_programme(db.session).roster_required_from == month
    event = last_event("programme.update")
    assert (event.before, event.after) == ({"roster_required_from": None},
                                           {"roster_required_from": month})
    assert f'value="{month}"' in client.get("/admin/programme").get_data(as_text=True)
    auth.logout()
    # From that month on, a city cannot submit without its roster.
    auth.login("shenzhen")
    client.post(f"/returns/{month}", data=form_data(0, "submit", bus_bev=1, bus_all_new=1,
                                                      charging_points=1))
    assert the_return() is None or the_return().status == "draft"
    auth.logout()
    # Empty again: no month requires a roster.
    auth.login("admin1")
    assert client.post("/admin/programme", data={**good, "roster_required_from": ""}
                       ).status_code == 302
    db.session.expire_all()
    assert get_programme(db.session).roster_required_from is None
    event = last_event("programme.update")
    assert (event.before, event.after) == ({"roster_required_from": month},
                                           {"roster_required_from": None})
    assert event.username == "admin1"
