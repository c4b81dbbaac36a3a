"""The return template's round trip: download, fill in as a clerk would (openpyxl, LibreOffice),
upload, check the dry run, confirm; and every kind of bad file refused with a clear message,
naming the sheet and cell, changing nothing."""

import html
import io
import random
import re
import zipfile

import openpyxl
import pytest
from sqlalchemy import func, select

from fleet.domain import returns
from fleet.domain.audit import Actor
from fleet.domain.cities import city_by_code
from fleet.domain.excel.safety import UnsafeFile, check_xlsx
from fleet.domain.excel.template import build_return_template
from fleet.domain.periods import add_months, format_period
from fleet.extensions import db
from fleet.models import AuditEvent

from .excel_helpers import fill, libreoffice_roundtrip, rezip
from .factories import make_return
from .returns_helpers import the_return, this_month


def download_template(client, period=None) -> bytes:
    response = client.get(f"/returns/{period or this_month()}/template.xlsx")
    assert response.status_code == 200
    return response.data


def upload(client, data: bytes, name="月报.xlsx", period=None):
    return client.post(f"/returns/{period or this_month()}/upload",
                       data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def token_of(page: str) -> str:
    match = re.search(r'name="token" type="hidden" value="([^"]+)"', page)
    assert match, "the dry run offers no confirmation"
    return html.unescape(match.group(1))


def confirm(client, page: str, period=None):
    return client.post(f"/returns/{period or this_month()}/upload/confirm",
                       data={"token": token_of(page)}, follow_redirects=True)


def cells_by_label(data: bytes) -> dict[tuple[str, str], str]:
    """What a clerk sees: (row heading, column heading) -> cell, read from the sheet itself."""
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    header_row = next(r for r in range(1, 20) if ws.cell(r, 1).value in ("领域", "Sector"))
    columns = {ws.cell(header_row, c).value: c for c in range(2, 8)}
    out = {}
    for row in range(header_row + 1, ws.max_row + 1):
        name = ws.cell(row, 1).value
        if isinstance(name, str):
            for heading, column in columns.items():
                out[(name, heading)] = ws.cell(row, column).coordinate
            out[(name, "")] = ws.cell(row, 2).coordinate  # single-value rows
            out[(name, "below")] = ws.cell(row + 1, 1).coordinate  # the notes box
    return out


def filled_by_a_clerk(data: bytes) -> bytes:
    at = cells_by_label(data)
    return fill(data, {
        at[("城市公交", "纯电动")]: 40, at[("城市公交", "插电式混合动力(含增程式)")]: 2,
        at[("城市公交", "全部新增车辆（含非新能源）")]: 45,
        at[("出租(含网约车)", "纯电动")]: 100,
        at[("出租(含网约车)", "全部新增车辆（含非新能源）")]: 130,
        at[("特定场景重型货车", "燃料电池")]: 3,
        at[("特定场景重型货车", "全部新增车辆（含非新能源）")]: 5,
        at[("新增公共充电桩", "")]: 150, at[("新增换电站", "")]: 1,
        at[("三、备注", "below")]: "首批氢能重卡投入运营；=SUM(1) 只是文字",
    })


EXPECTED = {"bus_bev": 40, "bus_phev": 2, "bus_all_new": 45, "taxi_bev": 100,
            "taxi_all_new": 130, "heavy_truck_fcev": 3, "heavy_truck_all_new": 5,
            "charging_points": 150, "swap_stations": 1}


def assert_holds_exactly(ret, notes="首批氢能重卡投入运营；=SUM(1) 只是文字"):
    fields = returns.values_of(ret).as_fields()
    for name, value in fields.items():
        if name == "notes":
            assert value == notes
        else:
            assert value == EXPECTED.get(name, 0), name


def test_round_trip_download_fill_upload_confirm(client, auth, setup):
    auth.login("shenzhen")
    response = client.get(f"/returns/{this_month()}/template.xlsx")
    assert response.status_code == 200
    assert response.mimetype == ("application/vnd.openxmlformats-officedocument."
                                 "spreadsheetml.sheet")
    assert (f'filename="fleet-template-440300-{this_month()}.xlsx"'
            in response.headers["Content-Disposition"])
    data = filled_by_a_clerk(response.data)

    page = upload(client, data).get_data(as_text=True)
    # The dry run shows what would change, and nothing is saved yet.
    assert "将有 10 项数值发生变化" in page
    assert 'data-field="bus_bev"' in page and "总表!B8" in page
    assert the_return() is None

    done = confirm(client, page)
    assert "已保存到" in done.get_data(as_text=True)
    ret = the_return()
    assert ret.status == "draft"
    assert_holds_exactly(ret)
    actions = [e.action for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.target_id == str(ret.id)).order_by(AuditEvent.id))]
    assert actions == ["return.create", "return.upload"]


def test_uploading_again_changes_only_what_differs(client, auth, setup):
    city = city_by_code(db.session, "440300")
    make_return(city, this_month(), "returned", counts={"bus": {"bev": 40, "phev": 2}},
                all_new={"bus": 45}, notes="旧备注", review_comment="请补充出租车")
    auth.login("shenzhen")
    data = filled_by_a_clerk(download_template(client))
    page = upload(client, data).get_data(as_text=True)
    changed = re.findall(r'class="table-warning changed" data-field="(\w+)"', page)
    assert set(changed) == {"taxi_bev", "taxi_all_new", "heavy_truck_fcev",
                            "heavy_truck_all_new", "charging_points", "swap_stations", "notes"}
    confirm(client, page)
    ret = the_return()
    assert ret.status == "returned"  # still with the city, to be submitted again
    assert_holds_exactly(ret)


def test_round_trip_through_libreoffice(client, auth, setup, tmp_path):
    auth.login("shenzhen")
    data = filled_by_a_clerk(download_template(client))
    saved = libreoffice_roundtrip(data, tmp_path)
    # LibreOffice calculated the template's totals from the clerk's numbers.
    ws = openpyxl.load_workbook(io.BytesIO(saved), data_only=True).worksheets[0]
    assert ws["E15"].value == 145 and ws["F15"].value == 180  # NEVs, all new vehicles
    page = upload(client, saved).get_data(as_text=True)
    assert "将有 10 项数值发生变化" in page
    confirm(client, page)
    assert_holds_exactly(the_return())


def test_errors_name_the_sheet_and_cell_and_nothing_is_saved(client, auth, setup):
    auth.login("shenzhen")
    data = fill(download_template(client), {
        "D7": "=1+1",  # a formula in a count cell
        "B8": -5,  # negative
        "C9": "十二",  # not a number
        "B10": 12.5,  # not whole
        "B19": "=B18*2",  # a formula among the infrastructure
    })
    response = upload(client, data)
    page = html.unescape(response.get_data(as_text=True))
    assert "文件中有错误，未保存任何内容" in page
    assert "总表!D7" in page and "填报单元格中不接受公式" in page
    assert "总表!B8" in page and "不得为负数" in page
    assert "总表!C9" in page and "须为不小于 0 的整数" in page
    assert "总表!B10" in page
    assert "总表!B19" in page
    assert 'name="token"' not in page  # no way to confirm
    assert the_return() is None


def test_nevs_above_all_new_vehicles_point_at_the_all_new_cell(client, auth, setup):
    auth.login("shenzhen")
    data = fill(download_template(client), {"B11": 30, "C11": 2, "F11": 20})
    page = html.unescape(upload(client, data).get_data(as_text=True))
    assert "总表!F11" in page and "超过该领域全部新增车辆（20）" in page
    assert the_return() is None


def test_the_english_template_and_its_messages(client, auth, setup):
    auth.login("shenzhen")
    client.get("/lang/en")
    data = download_template(client)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames[0] == "Return"
    page = upload(client, fill(data, {"B8": -1})).get_data(as_text=True)
    assert "Return!B8" in page and "Must not be negative." in page


def test_confirmation_does_not_overwrite_a_change_made_in_between(client, auth, setup):
    auth.login("shenzhen")
    page = upload(client, filled_by_a_clerk(download_template(client))).get_data(as_text=True)
    # Meanwhile a colleague saves the form.
    city = city_by_code(db.session, "440300")
    returns.save_return(db.session, Actor.of(setup["city"]), city, this_month(),
                        {"bus_bev": 7, "bus_all_new": 7}, 0)
    db.session.commit()
    done = confirm(client, page).get_data(as_text=True)
    assert "其他人修改了这份月报" in done
    assert returns.values_of(the_return()).lines["bus"].bev == 7


def test_a_forged_or_foreign_confirmation_saves_nothing(client, auth, setup):
    auth.login("shenzhen")
    page = upload(client, filled_by_a_clerk(download_template(client))).get_data(as_text=True)
    token = token_of(page)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = client.post(f"/returns/{this_month()}/upload/confirm", data={"token": forged},
                           follow_redirects=True)
    assert "已过期" in response.get_data(as_text=True)
    # A token for this month does not save another month.
    other = add_months(this_month(), -1)
    client.post(f"/returns/{other}/upload/confirm", data={"token": token})
    assert the_return() is None and the_return(period=other) is None


def test_a_submitted_return_is_not_changed_by_an_upload(client, auth, setup):
    city = city_by_code(db.session, "440300")
    make_return(city, this_month(), "submitted", counts={"bus": {"bev": 7}})
    auth.login("shenzhen")
    response = upload(client, filled_by_a_clerk(build_return_template(city, this_month())))
    assert response.status_code == 422
    assert "不能再修改" in response.get_data(as_text=True)
    assert returns.values_of(the_return()).lines["bus"].bev == 7


# --- bad files ----------------------------------------------------------------------------------

def macro_workbook(template: bytes) -> bytes:
    types = zipfile.ZipFile(io.BytesIO(template)).read("[Content_Types].xml").replace(
        b"spreadsheetml.sheet.main+xml", b"sheet.macroEnabled.main+xml")
    return rezip(template, replace={"[Content_Types].xml": types},
                 add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + bytes(512)})


def zip_bomb(template: bytes) -> bytes:
    """64 MiB of zeros packed into a few kilobytes, beside the real parts."""
    return rezip(template, add={"xl/media/image1.png": bytes(64 * 1024 * 1024)})


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<sheetData><row r="8"><c r="B8" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData>
</worksheet>"""


def billion_laughs(template: bytes) -> bytes:
    return rezip(template, replace={"xl/worksheets/sheet1.xml": BILLION_LAUGHS})


def other_city(template: bytes) -> bytes:
    return build_return_template(city_by_code(db.session, "110000"), this_month())


def other_month(template: bytes) -> bytes:
    return build_return_template(city_by_code(db.session, "440300"),
                                 add_months(this_month(), -1))


def plain_workbook(template: bytes) -> bytes:
    wb = openpyxl.Workbook()
    wb.active["B8"] = 12
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


BAD_FILES = [
    ("a text file renamed .xlsx", lambda t: "城市,公交\n440300,12\n".encode(), "月报.xlsx",
     "不是 Excel 工作簿"),
    ("an .xlsm with a VBA project", macro_workbook, "月报.xlsm", "不接受含宏的工作簿"),
    ("the same macros in a file named .xlsx", macro_workbook, "月报.xlsx", "不接受含宏的工作簿"),
    ("a zip bomb", zip_bomb, "月报.xlsx", "解压后的数据量远超月报模板"),
    ("a billion-laughs sheet", billion_laughs, "月报.xlsx", "不允许的 XML 声明"),
    ("an old .xls", lambda t: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2048), "月报.xls",
     "旧格式（.xls）"),
    ("another city's template", other_city, "月报.xlsx", "其他城市（代码 110000）"),
    ("another month's template", other_month, "月报.xlsx", "不是 " + "{month}" + " 的"),
    ("a workbook that is not our template", plain_workbook, "月报.xlsx", "不是本系统的月报模板"),
]


@pytest.mark.parametrize("case, make, name, message", BAD_FILES,
                         ids=[case for case, *_ in BAD_FILES])
def test_bad_files_are_refused_with_a_clear_message(client, auth, setup, case, make, name,
                                                    message):
    auth.login("shenzhen")
    template = filled_by_a_clerk(download_template(client))
    events = db.session.scalar(select(func.count(AuditEvent.id)))
    response = upload(client, make(template), name)
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert message.format(month=format_period(this_month(), "zh")) in page  # 2026年11月
    assert 'name="token"' not in page
    assert the_return() is None
    # Nothing changed; the only trace is the refusal itself, in the audit log.
    assert db.session.scalar(select(func.count(AuditEvent.id))) == events + 1
    refusal = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert refusal.action == "upload.refused" and refusal.username == "shenzhen"


def test_archive_limits_are_checked_from_the_directory(app):
    template = build_return_template(city_by_code(db.session, "440300") or _city(), "2025-09")
    check_xlsx(template, "ok.xlsx")  # our own template passes
    many = rezip(template, add={f"xl/media/x{i}.bin": b"x" for i in range(400)})
    with pytest.raises(UnsafeFile, match="部件过多"):
        check_xlsx(many, "many.xlsx")
    # 2 MiB of zeros: small in total, but compressed far beyond what XML does.
    dense = rezip(template, add={"xl/media/zeros.bin": bytes(2 * 1024 * 1024)})
    with pytest.raises(UnsafeFile, match="解压后的数据量"):
        check_xlsx(dense, "dense.xlsx")


def _city():
    from fleet.models import City

    return City(code="440300", name_zh="深圳市", name_en="Shenzhen", province_zh="广东省")


def test_openpyxl_parses_with_defusedxml(app):
    """defusedxml is installed, so openpyxl refuses entity declarations whatever reaches it."""
    import defusedxml

    assert openpyxl.DEFUSEDXML is True
    from openpyxl.xml import functions

    assert functions.iterparse.__module__.startswith("defusedxml")
    bomb = billion_laughs(build_return_template(_city(), "2025-09"))
    with pytest.raises(ValueError) as refused:
        openpyxl.load_workbook(io.BytesIO(bomb))
    causes = []
    error = refused.value
    while error is not None:
        causes.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, defusedxml.DefusedXmlException) for e in causes)


def test_uploads_above_the_size_limit_get_413(app, client, auth, setup):
    app.config["MAX_CONTENT_LENGTH"] = 4096
    auth.login("shenzhen")
    response = upload(client, filled_by_a_clerk(download_template(client)) + bytes(8192))
    assert response.status_code == 413
    assert the_return() is None


def test_only_the_city_bureau_uploads_and_only_into_its_own_city(client, auth, setup):
    for username in ("ministry1", "viewer1", "admin1"):
        auth.login(username)
        assert client.get(f"/returns/{this_month()}/template.xlsx").status_code == 403
        assert client.get(f"/returns/{this_month()}/upload").status_code == 403
        auth.logout()
    # Beijing's bureau cannot put numbers into Shenzhen's return, even with its template.
    auth.login("beijing")
    shenzhen_template = build_return_template(city_by_code(db.session, "440300"), this_month())
    response = upload(client, filled_by_a_clerk(shenzhen_template))
    assert response.status_code == 422
    assert "其他城市（代码 440300）" in html.unescape(response.get_data(as_text=True))
    assert the_return("440300") is None and the_return("110000") is None


def test_the_upload_and_its_confirmation_need_the_csrf_token(app, client, auth, setup):
    auth.login("shenzhen")
    data = filled_by_a_clerk(download_template(client))
    page = upload(client, data).get_data(as_text=True)
    app.config["WTF_CSRF_ENABLED"] = True
    assert upload(client, data).status_code == 400
    response = client.post(f"/returns/{this_month()}/upload/confirm",
                           data={"token": token_of(page)})
    assert response.status_code == 400
    assert the_return() is None


def test_a_name_pointing_far_away_is_not_our_template(client, auth, setup):
    """A crafted workbook whose names point at the sheet's last cell is refused at once."""
    auth.login("shenzhen")
    wb = openpyxl.load_workbook(io.BytesIO(download_template(client)))
    wb.defined_names["fleet_bus_bev"].attr_text = "'总表'!$XFD$1048576"
    out = io.BytesIO()
    wb.save(out)
    response = upload(client, out.getvalue())
    assert response.status_code == 422
    assert "不是本系统的月报模板" in response.get_data(as_text=True)


def _incompressible_xml(size: int) -> bytes:
    """Shared strings of random text: deflates to about 3/4 of its size, like the review's
    3.3 MB file whose sharedStrings.xml unpacks to 19.5 MB (no zip-bomb ratio to catch)."""
    import base64
    import os

    chunks, total = [b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
                     b'spreadsheetml/2006/main">'], 0
    while total < size:
        text = base64.b64encode(os.urandom(3000))
        chunks.append(b"<si><t>" + text + b"</t></si>")
        total += len(text) + 15
    chunks.append(b"</sst>")
    return b"".join(chunks)


def _with_part(data: bytes, name: str, content: bytes) -> bytes:
    """The workbook with this part replaced, or added where it has none."""
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    if name in names:
        return rezip(data, replace={name: content})
    return rezip(data, add={name: content})


def test_a_part_bigger_than_a_template_needs_is_refused_before_parsing(client, auth, setup):
    """A real template with shared strings of 4 MB (within today's generic 20 MB) is refused
    from the zip directory, with the part named, before openpyxl reads it: the message is
    the size check's, not the parser's."""
    from fleet.domain.excel import safety

    auth.login("shenzhen")
    template = filled_by_a_clerk(download_template(client))
    big = _with_part(template, "xl/sharedStrings.xml", _incompressible_xml(4 * 1024 * 1024))
    assert len(big) < 4 * 1024 * 1024  # under the 5 MiB upload limit, and no bomb by ratio
    events = db.session.scalar(select(func.count(AuditEvent.id)))
    response = upload(client, big)
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "解压后的数据量远超月报模板（部件 xl/sharedStrings.xml）" in page
    assert 'name="token"' not in page and the_return() is None
    # Nothing changed; the refusal alone is recorded (upload.refused).
    assert db.session.scalar(select(func.count(AuditEvent.id))) == events + 1
    # Each limit, from the directory alone (nothing inflated): just over is refused.
    for part, limit in (("xl/sharedStrings.xml", safety.MAX_SHARED_STRINGS),
                        ("xl/worksheets/sheet9.xml", safety.MAX_SHEET),
                        ("xl/styles.xml", safety.MAX_STYLES),
                        ("xl/theme/theme9.xml", safety.MAX_OTHER_PART)):
        assert safety.part_limit(part) == limit
        with pytest.raises(UnsafeFile, match=re.escape(part)):
            check_xlsx(_with_part(template, part, _incompressible_xml(limit + 1)), "x.xlsx")
    # Parts each within their bound, together over the total.
    sheets = {f"xl/worksheets/sheet{n}.xml": _incompressible_xml(safety.MAX_SHEET - 64 * 1024)
              for n in range(3, 3 + safety.MAX_TOTAL_UNCOMPRESSED // safety.MAX_SHEET + 1)}
    with pytest.raises(UnsafeFile, match="解压后的数据量"):
        check_xlsx(rezip(template, add=sheets), "x.xlsx")


def test_the_app_refuses_to_start_when_openpyxl_would_not_use_defusedxml(make_app,
                                                                           monkeypatch):
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True
    monkeypatch.setattr(openpyxl.xml, "DEFUSEDXML", False)
    with pytest.raises(RuntimeError, match="defusedxml"):
        make_app()


def test_a_dtd_is_found_wherever_the_prolog_puts_it(app):
    """Only a part's prolog is read (a DTD can stand nowhere else), however long it is made:
    a DOCTYPE after a comment longer than a read chunk, a BOM, or a prolog padded beyond
    any Office file's is refused; a document that merely mentions one later is not."""
    from fleet.domain.excel import safety

    template = build_return_template(city_by_code(db.session, "440300") or _city(), "2025-09")
    sheet = zipfile.ZipFile(io.BytesIO(template)).read("xl/worksheets/sheet1.xml")
    body = sheet.split(b"?>", 1)[-1]  # the document without its declaration, if any
    declaration = b'<?xml version="1.0" encoding="UTF-8"?>'
    def comment(size: int) -> bytes:  # incompressible, as no zip-bomb check would object
        return b"<!--" + random.Random(size).randbytes(size // 2).hex().encode() + b"-->"

    long_comment = comment(safety.PROLOG_CHUNK + 124)
    for prolog in (declaration + long_comment + b"\n<!DOCTYPE x [<!ENTITY a 'b'>]>",
                   b"\xef\xbb\xbf" + declaration + b"<!doctype x>",
                   declaration + b" " * (safety.PROLOG_CHUNK - len(declaration) - 1)
                   + b"<!DOCTYPE x>",
                   declaration + comment(safety.MAX_PROLOG + 2)):
        bad = rezip(template, replace={"xl/worksheets/sheet1.xml": prolog + body})
        with pytest.raises(UnsafeFile, match="XML 声明"):
            check_xlsx(bad, "x.xlsx")
    mentioned = body.replace(b"</sheetData>", b"</sheetData><!-- <!DOCTYPE x> -->")
    check_xlsx(rezip(template, replace={"xl/worksheets/sheet1.xml": declaration + mentioned}),
               "x.xlsx")
