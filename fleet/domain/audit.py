"""The audit log: the one function every write (and every refusal) goes through, and the
log as an auditor reads it — actions and fields in the reader's language, records named,
changes as "field: old → new", filters, pages and a CSV file.

The log only grows: an audit row is never updated or deleted through the ORM (see the mapper
events at the end), and no page offers to change one.
"""

import codecs
import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, cast, event, false, func, or_, select
from sqlalchemy.orm import Session

from ..models import AuditEvent, City, MonthlyReturn, User
from .errors import DomainError
from .periods import format_period


@dataclass(frozen=True)
class Actor:
    """Who acts, and from which address. Views build it from the request; the CLI too."""

    user_id: int | None
    username: str
    ip: str | None = None
    # What the actor may do: the role, and for a city user the one city it acts for.
    role: str | None = None
    city_id: int | None = None

    @classmethod
    def of(cls, user: User | None, ip: str | None = None) -> "Actor":
        if user is None:
            return cls(None, "", ip)
        return cls(user.id, user.username, ip, user.role, user.city_id)

    @classmethod
    def system(cls, name: str = "cli") -> "Actor":
        """The command line: acts with full rights, recorded under its own name."""
        return cls(None, name, None, "system")


# --- writing ----------------------------------------------------------------------------------

# Line breaks, other control characters (C0, DEL, C1), the Unicode line separators, and the
# backslash itself (so that an escaped "\n" can never be confused with one typed as text).
_UNSAFE = re.compile("[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\\\]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100
                                else f"\\u{ord(char):04x}")


def escape_text(text: object) -> str:
    """Text safe to store in the log and show on one line: CR, LF, NUL and every other
    control character become visible escapes (\\n, \\r, \\x00), so no one can forge a log
    line or break a database with them."""
    return _UNSAFE.sub(_escape_char, str(text))


def _plain(value):
    """JSON-safe, escaped copy of before/after values."""
    if isinstance(value, dict):
        return {escape_text(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, str):
        return escape_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return escape_text(value)


def record_event(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: object = "",
    before: dict | None = None,
    after: dict | None = None,
    detail: str = "",
) -> AuditEvent:
    """Add an audit event to the session; it commits (or rolls back) with the change itself.

    Every text is escaped here, in one place, and cut to its column after escaping.
    """
    event_ = AuditEvent(
        user_id=actor.user_id,
        username=escape_text(actor.username or "")[:64],
        ip=escape_text(actor.ip)[:45] if actor.ip is not None else None,
        action=escape_text(action)[:64],
        target_type=escape_text(target_type or "")[:32],
        target_id=escape_text(target_id if target_id not in (None, "") else "")[:64],
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
        detail=escape_text(detail or "")[:2000],
    )
    session.add(event_)
    return event_


def changed_fields(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose values differ, for compact audit entries."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def month_target(city_code: str, period: str) -> str:
    """The record of a city-month that may have no return yet ('440300 2026-03')."""
    return f"{city_code} {period}"


# --- what a reader sees -----------------------------------------------------------------------

def _zh(lang: str) -> bool:
    return lang.startswith("zh")


# Every action code the app records, as a person says it. A code missing here is shown as is
# (a test checks that every code recorded in fleet/ has its label).
ACTIONS: dict[str, tuple[str, str]] = {
    "auth.login": ("登录", "Signed in"),
    "auth.login_failed": ("登录失败", "Sign-in failed"),
    "auth.login_refused": ("拒绝登录", "Sign-in refused"),
    "auth.locked": ("账户被锁定", "Account locked"),
    "auth.logout": ("退出登录", "Signed out"),
    "user.create": ("创建用户", "User created"),
    "user.update": ("修改用户", "User changed"),
    "user.reset_password": ("重置用户密码", "Password reset by an administrator"),
    "user.unlock": ("解锁用户", "Account unlocked by an administrator"),
    "user.email": ("修改电子邮箱", "E-mail address changed"),
    "user.language": ("修改通知语言", "Language of notices changed"),
    "reminder.send": ("催报", "Reminder sent"),
    "attachment.upload": ("上传盖章扫描件", "Stamped scan uploaded"),
    "roster.replace": ("导入车辆明细", "Vehicle roster imported"),
    "roster.add": ("添加车辆", "Vehicle added to the roster"),
    "roster.remove": ("删除车辆", "Vehicle removed from the roster"),
    "roster.conflict": ("拒绝重复计入的VIN", "VIN already counted: claim refused"),
    "demo.vehicles": ("生成演示车辆明细", "Demo rosters generated"),
    "token.create": ("创建接口令牌", "API token created"),
    "token.revoke": ("吊销接口令牌", "API token revoked"),
    "user.change_password": ("修改本人密码", "Own password changed"),
    "city.load": ("载入试点城市", "Pilot city loaded"),
    "city.create": ("新增城市", "City added"),
    "city.update": ("修改城市", "City changed"),
    "programme.update": ("修改项目设置", "Programme settings changed"),
    "return.create": ("新建月报", "Return created"),
    "return.save": ("保存月报草稿", "Return draft saved"),
    "return.submit": ("报送月报", "Return submitted"),
    "return.upload": ("通过 Excel 模板填报", "Return filled from an uploaded template"),
    "return.approve": ("审核通过", "Return approved"),
    "return.send_back": ("退回城市", "Return sent back to the city"),
    "return.reopen": ("重新打开月报", "Return reopened"),
    "return.invalid": ("月报未通过校验", "Return refused by the checks"),
    "upload.refused": ("拒收上传文件", "Uploaded file refused"),
    "file.download": ("下载文件", "File downloaded"),
    "access.denied": ("拒绝访问", "Access refused"),
    "security.csrf_failed": ("表单校验令牌无效（CSRF）", "Form token invalid (CSRF)"),
    "security.session_moved": ("会话从其他浏览器或网络地址使用，已终止",
                               "Session used from another browser or address: ended"),
    "demo.load": ("载入演示数据", "Demo data loaded"),
    "demo.clear": ("清除演示数据", "Demo data removed"),
    "integrity.verify": ("核验数据完整性", "Integrity verified"),
    "job.request": ("提交后台任务", "Background job requested"),
    "job.cleanup": ("清理过期的后台任务文件", "Expired background job files removed"),
}

# What kind of record an event is about.
RECORD_TYPES: dict[str, tuple[str, str]] = {
    "return": ("月报", "Return"),
    "month": ("月报", "Return"),
    "user": ("用户", "User"),
    "city": ("城市", "City"),
    "programme": ("项目设置", "Programme"),
    "path": ("网址", "Address"),
    "file": ("文件", "File"),
    "integrity": ("数据完整性", "Integrity"),
    "api_token": ("接口令牌", "API token"),
    "vehicle": ("车辆", "Vehicle"),
    "job": ("后台任务", "Background job"),
}

# Fields of users, cities, the programme and a return's state; a return's numbers are named
# by fleet.domain.rules.field_label.
FIELDS: dict[str, tuple[str, str]] = {
    "username": ("用户名", "User name"),
    "display_name": ("姓名", "Full name"),
    "role": ("角色", "Role"),
    "city": ("城市", "City"),
    "active": ("启用", "Active"),
    "must_change_password": ("须修改密码", "Must change password"),
    "code": ("城市代码", "City code"),
    "name_zh": ("中文名称", "Chinese name"),
    "name_en": ("英文名称", "English name"),
    "province_zh": ("省份", "Province"),
    "batch": ("试点批次", "Pilot batch"),
    "pilot_period": ("试点期", "Pilot period"),
    "pilot_nev_target": ("试点方案新能源汽车目标", "Pilot plan NEV target"),
    "pilot_charging_target": ("试点方案充电桩目标", "Pilot plan charging target"),
    "pilot_swap_target": ("试点方案换电站目标", "Pilot plan swap-station target"),
    "nev_target": ("新能源汽车目标", "NEV target"),
    "national_target": ("全国目标", "National target"),
    "first_period": ("首个报送月份", "First reporting month"),
    "last_period": ("最后报送月份", "Last reporting month"),
    "due_day": ("次月截止日", "Due day of the following month"),
    "attachment_required": ("审核前须上传盖章扫描件", "Stamped scan required"),
    "roster_required_from": ("须报车辆明细的起始月份", "Vehicle roster required from"),
    "demo_data": ("演示数据", "Demo data"),
    "status": ("状态", "Status"),
    "reason": ("原因", "Reason"),
    "returns_deleted": ("删除的月报数", "Returns deleted"),
    "seed": ("随机种子", "Seed"),
    # What `flask fleet demo` reports (fleet.domain.demo.DemoResult).
    "through": ("填至月份", "Filled through"),
    "cities": ("城市数", "Cities"),
    "returns": ("月报数", "Returns"),
    "approved": ("已通过", "Approved"),
    "submitted": ("已提交", "Submitted"),
    "returned": ("已退回", "Sent back"),
    "draft": ("草稿", "Drafts"),
    "missing": ("缺报", "Missing"),
    "late": ("迟报", "Late"),
    "targets_set": ("设定的演示目标数", "Demo targets set"),
    "replaced": ("替换的月报数", "Returns replaced"),
}


def action_label(code: str, lang: str) -> str:
    """'user.create' → 创建用户 / User created (the code itself if unknown)."""
    names = ACTIONS.get(code)
    return code if names is None else names[0 if _zh(lang) else 1]


def action_choices(lang: str) -> list[tuple[str, str]]:
    """(code, label) of every action, for a filter."""
    return [(code, action_label(code, lang)) for code in ACTIONS]


def record_type_choices(lang: str) -> list[tuple[str, str]]:
    seen, out = set(), []
    for code, names in RECORD_TYPES.items():
        if names not in seen and code != "month":
            seen.add(names)
            out.append((code, names[0 if _zh(lang) else 1]))
    return out


def field_name(name: str, lang: str) -> str:
    """A field of any record as a person reads it."""
    from .rules import NUMBER_FIELDS, field_label

    if name in FIELDS:
        return FIELDS[name][0 if _zh(lang) else 1]
    if name in NUMBER_FIELDS or name in ("charging_points", "swap_stations", "notes"):
        return field_label(name, lang)
    return name


@dataclass(frozen=True)
class Change:
    """One field of a record: its label, and its value before and after, as text."""

    field: str
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.field}: {self.before} → {self.after}"


@dataclass(frozen=True)
class EventView:
    """An audit event as a reader sees it (all text in the reader's language)."""

    id: int
    at: datetime  # UTC
    username: str
    ip: str
    action: str
    action_label: str
    record_type: str
    record: str
    changes: tuple[Change, ...]
    detail: str
    target_type: str = ""
    target_id: str = ""

    @property
    def changes_text(self) -> str:
        return "; ".join(str(c) for c in self.changes)


@dataclass
class _Names:
    """The records a batch of events is about, looked up once per batch."""

    returns: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # id: code, zh, en
    period_of: dict[str, str] = field(default_factory=dict)
    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # id: username, display
    cities: dict[str, tuple[str, str]] = field(default_factory=dict)  # code: zh, en


def _load_names(session: Session, events: list[AuditEvent]) -> _Names:
    names = _Names()
    ids = {t: set() for t in ("return", "user", "city")}
    for e in events:
        if e.target_type in ids and e.target_id:
            ids[e.target_type].add(e.target_id)
        if e.target_type == "month":
            ids["city"].add(e.target_id[:6])
        for values in (e.before, e.after):
            if isinstance(values, dict) and isinstance(values.get("city"), str):
                ids["city"].add(values["city"])
    return_ids = [int(i) for i in ids["return"] if i.isdigit() and len(i) < 19]
    if return_ids:
        for rid, period, code, zh, en in session.execute(
                select(MonthlyReturn.id, MonthlyReturn.period, City.code, City.name_zh,
                       City.name_en).join(City).where(MonthlyReturn.id.in_(return_ids))):
            names.returns[str(rid)] = (code, zh, en)
            names.period_of[str(rid)] = period
    user_ids = [int(i) for i in ids["user"] if i.isdigit() and len(i) < 19]
    if user_ids:
        for uid, username, display in session.execute(
                select(User.id, User.username, User.display_name)
                .where(User.id.in_(user_ids))):
            names.users[str(uid)] = (username, display)
    if ids["city"]:
        for code, zh, en in session.execute(select(City.code, City.name_zh, City.name_en)
                                            .where(City.code.in_(ids["city"]))):
            names.cities[code] = (zh, en)
    return names


def _city_text(names: _Names, code: str, lang: str) -> str:
    city = names.cities.get(code)
    return code if city is None else f"{city[0 if _zh(lang) else 1]} ({code})"


def _month_text(names: _Names, code: str, period: str, lang: str) -> str:
    city = names.cities.get(code)
    city_name = code if city is None else city[0 if _zh(lang) else 1]
    try:
        month = format_period(period, lang)
    except (ValueError, IndexError):
        month = period
    return f"{city_name} · {month}" + (" 月报" if _zh(lang) else " return")


def _record(e: AuditEvent, names: _Names, lang: str) -> str:
    """The record named: 深圳市 · 2026年3月 月报, admin1 (张三), 深圳市 (440300)."""
    kind, ident = e.target_type, e.target_id
    if kind == "return":
        if ident in names.returns:
            code, zh, en = names.returns[ident]
            names.cities.setdefault(code, (zh, en))
            return _month_text(names, code, names.period_of[ident], lang)
        parts = (e.detail or "").split()  # a deleted return: its detail says "code month"
        if len(parts) >= 2 and re.fullmatch(r"\d{6}", parts[0]):
            return _month_text(names, parts[0], parts[1], lang)
    elif kind == "month" and " " in ident:
        code, period = ident.split(" ", 1)
        return _month_text(names, code, period, lang)
    elif kind == "user":
        if ident in names.users:
            username, display = names.users[ident]
            return f"{username} ({display})" if display else username
        if not ident:
            return ""
    elif kind == "city":
        return _city_text(names, ident, lang)
    elif kind == "programme":
        return RECORD_TYPES["programme"][0 if _zh(lang) else 1]
    elif kind in ("path", "file"):
        return ident
    return f"{kind} {ident}".strip()


def _value_text(name: str, value, names: _Names, lang: str) -> str:
    """A stored value as plain text: 是/否, 已通过, 审计管理员, 深圳市 (440300), —."""
    from .excel.layout import status_text
    from .reference import role_label

    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return ("是" if value else "否") if _zh(lang) else ("yes" if value else "no")
    if name == "status" and isinstance(value, str):
        return status_text(value, lang)
    if name == "role" and isinstance(value, str):
        return role_label(value, lang)
    if name == "city" and isinstance(value, str):
        return _city_text(names, value, lang)
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _changes(e: AuditEvent, names: _Names, lang: str) -> tuple[Change, ...]:
    before = e.before if isinstance(e.before, dict) else {}
    after = e.after if isinstance(e.after, dict) else {}
    keys = list(after) + [k for k in before if k not in after]
    if e.before is None:  # a new record: only what it was created with, not its empty fields
        keys = [k for k in keys if after.get(k) not in (None, "", 0, False)]
    return tuple(Change(field_name(k, lang), _value_text(k, before.get(k), names, lang),
                        _value_text(k, after.get(k), names, lang)) for k in keys)


def readable(session: Session, events: Iterable[AuditEvent], lang: str) -> list[EventView]:
    """Events as a reader sees them, with at most three lookups for the whole batch."""
    events = list(events)
    names = _load_names(session, events)
    zh = _zh(lang)
    return [EventView(
        id=e.id, at=e.at, username=e.username, ip=e.ip or "", action=e.action,
        action_label=action_label(e.action, lang),
        record_type=RECORD_TYPES.get(e.target_type, (e.target_type, e.target_type))[
            0 if zh else 1],
        record=_record(e, names, lang), changes=_changes(e, names, lang),
        detail=e.detail or "", target_type=e.target_type, target_id=e.target_id)
        for e in events]


# --- finding events ---------------------------------------------------------------------------

# Dates in filters are Beijing dates, as the reader sees them on the page.
LOCAL_TZ_HOURS = 8
PER_PAGE = 50
CSV_MAX_ROWS = 100_000


@dataclass(frozen=True)
class AuditFilter:
    """What the reader asks for; empty means any."""

    user: str = ""
    action: str = ""
    record: str = ""
    record_type: str = ""
    record_id: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def as_args(self) -> dict:
        """The filter as URL arguments (for paging and the CSV link)."""
        args = {"user": self.user, "action": self.action, "record": self.record,
                "type": self.record_type, "id": self.record_id,
                "from": self.date_from.isoformat() if self.date_from else "",
                "to": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in args.items() if v}


def _date(text: str, field_: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError(_l("Enter a date as YYYY-MM-DD."), field_) from None


def parse_filter(args: Mapping[str, str]) -> AuditFilter:
    """The filter from URL arguments: user, action, record, type, id, from, to.

    Texts are escaped as the log stores them (so a control character can only match an
    escaped one, and never reaches the database raw) and bounded. Raises DomainError for a
    malformed date or a range that ends before it starts.
    """
    def text(name: str, limit: int = 100) -> str:
        return escape_text((args.get(name) or "").strip())[:limit]

    flt = AuditFilter(user=text("user", 64), action=text("action", 64),
                      record=text("record"), record_type=text("type", 32),
                      record_id=text("id", 64), date_from=_date(args.get("from"), "from"),
                      date_to=_date(args.get("to"), "to"))
    if flt.date_from and flt.date_to and flt.date_to < flt.date_from:
        raise DomainError(_l("The end date is before the start date."), "to")
    return flt


def local_date_of(at_utc: datetime) -> date:
    """The Beijing date of a stored (UTC) time."""
    return (at_utc + timedelta(hours=LOCAL_TZ_HOURS)).date()


def _utc(day: date) -> datetime:
    return datetime.combine(day, time.min) - timedelta(hours=LOCAL_TZ_HOURS)


def _contains(column, text: str):
    return func.lower(column).contains(text.lower(), autoescape=True)


def _record_condition(text: str):
    """Events about the records a text names: a city (code or name, with its returns), a
    month ('2026-03', alone or with a city), a user (name), an address or a file."""
    match = re.search(r"\b(\d{4}-\d{2})\b", text)
    period = match.group(1) if match else None
    rest = (text[:match.start()] + text[match.end():]).strip() if match else text.strip()
    city_codes = select(City.code)
    if rest:
        city_codes = city_codes.where(or_(City.code == rest, _contains(City.name_zh, rest),
                                          _contains(City.name_en, rest)))
    returns = select(cast(MonthlyReturn.id, String)).where(
        MonthlyReturn.city_id.in_(select(City.id).where(City.code.in_(city_codes))))
    if period:
        returns = returns.where(MonthlyReturn.period == period)
    month = func.substr(AuditEvent.target_id, 1, 6).in_(city_codes)
    if period:
        month = and_(month, AuditEvent.target_id.endswith(" " + period))
    conditions = [and_(AuditEvent.target_type == "return", AuditEvent.target_id.in_(returns)),
                  and_(AuditEvent.target_type == "month", month)]
    if period:  # a month names returns (and national files of that month), not a city
        if not rest:
            conditions.append(and_(AuditEvent.target_type == "file",
                                   _contains(AuditEvent.target_id, period)))
    elif rest:
        users = select(cast(User.id, String)).where(or_(_contains(User.username, rest),
                                                        _contains(User.display_name, rest)))
        conditions += [
            and_(AuditEvent.target_type == "city", AuditEvent.target_id.in_(city_codes)),
            and_(AuditEvent.target_type == "user", AuditEvent.target_id.in_(users)),
            and_(AuditEvent.target_type.in_(("path", "file")),
                 _contains(AuditEvent.target_id, rest))]
    else:
        return false()
    return or_(*conditions)


def _query(flt: AuditFilter):
    query = select(AuditEvent)
    if flt.user:
        by_name = select(User.id).where(_contains(User.display_name, flt.user))
        query = query.where(or_(func.lower(AuditEvent.username) == flt.user.lower(),
                                AuditEvent.user_id.in_(by_name)))
    if flt.action:
        query = query.where(AuditEvent.action == flt.action)
    if flt.record_type:
        kinds = ("return", "month") if flt.record_type == "return" else (flt.record_type,)
        query = query.where(AuditEvent.target_type.in_(kinds))
    if flt.record_id:
        query = query.where(AuditEvent.target_id == flt.record_id)
    if flt.record:
        query = query.where(_record_condition(flt.record))
    if flt.date_from:
        query = query.where(AuditEvent.at >= _utc(flt.date_from))
    if flt.date_to:
        query = query.where(AuditEvent.at < _utc(flt.date_to + timedelta(days=1)))
    return query


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    page: int  # 1-based, within 1..pages
    pages: int
    total: int


def search_events(session: Session, flt: AuditFilter, page: int = 1,
                  per_page: int = PER_PAGE) -> AuditPage:
    """One page of the matching events, newest first. Any page number is accepted and
    brought within 1..pages (a page beyond the last shows the last)."""
    query = _query(flt)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    events = session.scalars(query.order_by(AuditEvent.id.desc())
                             .limit(per_page).offset((page - 1) * per_page)).all()
    return AuditPage(list(events), page, pages, total)


def recent_events(session: Session, *, target_type: str, target_id: str, limit: int = 200
                  ) -> list[AuditEvent]:
    """One record's events, oldest first (a return's history on the review page)."""
    query = (select(AuditEvent).where(AuditEvent.target_type == target_type,
                                      AuditEvent.target_id == target_id)
             .order_by(AuditEvent.id.desc()).limit(limit))
    return list(reversed(session.scalars(query).all()))


# --- the CSV file -----------------------------------------------------------------------------

CSV_COLUMNS = (
    ("时间（北京时间）", "Time (Beijing)"), ("用户", "User"), ("地址", "Address"),
    ("操作", "Action"), ("操作代码", "Action code"), ("对象类型", "Record type"),
    ("对象", "Record"), ("变更", "Changes"), ("说明", "Detail"),
)


def audit_csv(session: Session, flt: AuditFilter, lang: str) -> bytes:
    """The matching events (newest first, at most CSV_MAX_ROWS) as CSV: UTF-8 with a BOM for
    Excel, the same readable text as the page, formula-like cells neutralised."""
    from .excel.safety import neutral_csv_text

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([zh if _zh(lang) else en for zh, en in CSV_COLUMNS])
    query = _query(flt).order_by(AuditEvent.id.desc())
    for offset in range(0, CSV_MAX_ROWS, 1000):
        batch = session.scalars(query.limit(1000).offset(offset)).all()
        for view in readable(session, batch, lang):
            local = view.at.replace(tzinfo=timezone.utc) + timedelta(hours=LOCAL_TZ_HOURS)
            writer.writerow([neutral_csv_text(v) for v in (
                local.strftime("%Y-%m-%d %H:%M:%S"), view.username, view.ip,
                view.action_label, view.action, view.record_type, view.record,
                view.changes_text, view.detail)])
        if len(batch) < 1000:
            break
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


# --- the log only grows -----------------------------------------------------------------------

class AuditImmutable(RuntimeError):
    """Something tried to change or delete an audit row: a programming error, never allowed."""


@event.listens_for(AuditEvent, "before_update")
def _never_update(_mapper, _connection, target):
    raise AuditImmutable(f"audit event {target.id} cannot be changed")


@event.listens_for(AuditEvent, "before_delete")
def _never_delete(_mapper, _connection, target):
    raise AuditImmutable(f"audit event {target.id} cannot be deleted")
