"""`flask credit …`: the command line. Each command owns its unit of work; bad input exits non-zero with
a one-line reason and changes nothing."""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from credit.clock import parse_past_date, today
from credit.db import ensure_statistics, is_unavailable, session_scope
from credit.migrate import upgrade_to_head
from credit.models import Actor, User
from credit.rules.ruleset import PURPOSES
from credit.services.assessment import assess_all
from credit.services.demo import seed_demo
from credit.services.event_import import import_events
from credit.services.events import ensure_system_user
from credit.services.firms import import_firms
from credit.services.hot_checks import Caller, answer_checks, config_cache, log_answers
from credit.services.listings import expire_listings
from credit.services.pilot_codes import validate_code
from credit.services.rulesets import active_version, ensure_default_ruleset
from credit.services.signing import signer_for
from credit.services.users import UserError, create_user, get_user
from credit.uscc import UsccError
from credit.web.helpers import read_limits


class CreditGroup(AppGroup):
    """The command group: a database that was never initialised (or is behind the code) gets one line that
    says what to do, not a traceback."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as exc:
            text = str(exc.orig or exc).lower()
            if "no such table" in text or "does not exist" in text or "no such column" in text:
                fail("数据库尚未初始化或未升级到最新版本:请先运行 flask credit init")
            if is_unavailable(exc):  # the server down or restarting: one line, no traceback, nothing changed
                fail(f"数据库暂时无法访问，未作任何更改，请稍后重试：{str(exc.orig or exc).splitlines()[0]}")
            raise


credit_cli = CreditGroup("credit", help="质量信用红黑榜 commands.")


def _engine():
    return current_app.extensions["credit.engine"]


def _actor() -> Actor:
    return Actor(label="system", source="cli")


def fail(message: str) -> None:
    """Stop with a one-line reason and exit status 1."""
    click.echo(f"错误: {message}", err=True)
    sys.exit(1)


@credit_cli.command("init")
def init_command() -> None:
    """Create or migrate the database to the newest schema (idempotent)."""
    from credit.services.calendar import load_package_calendar, loaded_years

    revision = upgrade_to_head(_engine())
    with session_scope(_engine(), _actor()) as session:
        ensure_system_user(session)
        ensure_default_ruleset(session)
        version = active_version(session)
        added = load_package_calendar(session)
        years = sorted(year for year, *_ in loaded_years(session))
    click.echo(f"数据库已就绪 (revision {revision}),生效规则集 v{version.version}。")
    if added:
        click.echo(f"已载入 {added[0]}–{added[-1]} 年的法定工作日历({len(added)} 年)。")
    if years and years[-1] < today().year + 1:
        click.echo(
            f"提醒:法定工作日历只到 {years[-1]} 年;国务院公布 {years[-1] + 1} 年节假日安排后,"
            f"请用 flask credit calendar load 录入,否则跨年的异议期无法计算。",
            err=True,
        )


@credit_cli.command("create-user")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "recorder", "reviewer", "checker"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--display-name", default="", help="The person's name as shown in the app.")
@click.option("--department", default="")
def create_user_command(name: str, role: str, password_stdin: bool, display_name: str, department: str) -> None:
    """Create a staff account."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with session_scope(_engine(), _actor()) as session:
            user = create_user(
                session, username=name, role=role, password=password, display_name=display_name, department=department
            )
    except UserError as exc:
        fail(str(exc))
    click.echo(f"已创建用户 {user.username} ({user.role}).")


@credit_cli.command("import-firms")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_firms_command(file: Path) -> None:
    """Import firms from CSV or XLSX, all or nothing."""
    with session_scope(_engine(), _actor()) as session:
        with click.progressbar(length=0, label="导入企业", file=sys.stderr) as bar:
            report = import_firms(session, file, progress=bar.update, limits=read_limits())
        if not report.ok:
            session.rollback()
            for error in report.errors:
                click.echo(str(error), err=True)
            fail(f"{file.name}: {len(report.errors)} 处错误,未导入任何数据。")
    click.echo(f"{report.rows} 行:新增 {report.created},更新 {report.updated},未变 {report.unchanged}。")


def _user(session, username: str, role: str) -> User:
    user = get_user(session, username)
    if user is None:
        fail(f"没有用户 {username}")
    if not user.has_role(role):
        fail(f"用户 {username} 的角色是 {user.role},不是 {role}")
    return user  # type: ignore[return-value]


@credit_cli.command("import-events")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "by", default="", help="The recorder in whose name the events are recorded (default: system).")
@click.option("--approve-as", default="", help="A reviewer who approves the batch at once (four-eyes holds).")
def import_events_command(file: Path, by: str, approve_as: str) -> None:
    """Import credit events from CSV or XLSX, all or nothing; re-importing adds nothing."""
    with session_scope(_engine(), _actor()) as session:
        recorder = _user(session, by, "recorder") if by else ensure_system_user(session)
        reviewer = _user(session, approve_as, "reviewer") if approve_as else None
        session.info["actor"] = Actor(label=recorder.username, source="cli", user_id=recorder.id)
        with click.progressbar(length=0, label="导入信用事件", file=sys.stderr, show_pos=True) as bar:
            report = import_events(
                session, file, recorder=recorder, approve_as=reviewer, progress=bar.update, limits=read_limits()
            )
        if not report.ok:
            session.rollback()
            for error in report.errors:
                click.echo(str(error), err=True)
            fail(f"{file.name}: {len(report.errors)} 处错误,未导入任何数据。")
    state = f"已审核生效 {report.approved}" if reviewer else "待审核"
    batch = f",批次 #{report.batch_id}" if report.batch_id else ""
    click.echo(f"{report.rows} 行:新增 {report.created}({state}),已存在 {report.skipped}{batch}。")


@credit_cli.command("import-announcement")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "by", default="", help="The recorder in whose name the events are recorded (default: system).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--mapping", default="", help="A saved column mapping, for a layout that is not built in.")
@click.option("--publisher", default="", help="The publishing bureau, when the table has no such column.")
@click.option("--number", default="", help="The announcement's number (公告号), when the table has none.")
@click.option("--date", "published", default="", help="The announcement's date (YYYY-MM-DD), when the table has none.")
def import_announcement_command(
    file: Path, by: str, as_json: bool, mapping: str, publisher: str, number: str, published: str
) -> None:
    """Import a spot-check announcement (CSV/XLSX, published layouts) by firm name; re-importing adds nothing."""
    from credit.announcements.layouts import Defaults
    from credit.services.announcements import import_announcement, mapping_by_name

    with session_scope(_engine(), _actor()) as session:
        recorder = _user(session, by, "recorder") if by else ensure_system_user(session)
        saved = mapping_by_name(session, mapping) if mapping else None
        if mapping and saved is None:
            fail(f"没有名为「{mapping}」的列对应关系")
        day = None
        if published:
            try:
                day = parse_past_date(published, field="--date")
            except ValueError as exc:
                fail(str(exc))
        session.info["actor"] = Actor(label=recorder.username, source="cli", user_id=recorder.id)
        with click.progressbar(length=0, label="导入抽查公告", file=sys.stderr, show_pos=True) as bar:
            summary = import_announcement(
                session,
                file,
                recorder=recorder,
                mapping=saved,
                defaults=Defaults(publisher=publisher, number=number, published_on=day),
                progress=bar.update,
                limits=read_limits(),
            )
        if not summary.ok:
            session.rollback()
            for error in summary.errors:
                click.echo(str(error), err=True)
            fail(f"{file.name}：未导入任何数据。")
    if as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(
        f"{summary.rows} 行（合格 {summary.passes}，不合格 {summary.failures}）："
        f"自动匹配 {summary.matched}，待确认 {summary.to_confirm}，未匹配 {summary.unmatched}，"
        f"非本辖区 {summary.out_of_jurisdiction}；已导入过 {summary.already_imported} 行，"
        f"新增待审核事件 {summary.events_created}，跳过 {len(summary.skipped)} 行。"
    )
    for skip in summary.skipped:
        click.echo(f"  跳过第 {skip.file_row} 行：{skip.detail}")
    for item in summary.announcements:
        click.echo(f"  公告 {item['label']}：{item['rows']} 行，批次 #{item['batch_id']}")


def _date(value: str | None, option: str = "--as-of") -> date | None:
    """A date option: ISO, not after today (Beijing time) and not before 1990 — else exit 1 with the reason."""
    if not value:
        return None
    try:
        return parse_past_date(value, field=option)
    except ValueError as exc:
        fail(str(exc))
    return None


@credit_cli.command("assess")
@click.option("--as-of", "as_of", default=None, help="The assessment date (YYYY-MM-DD); default today.")
def assess_command(as_of: str | None) -> None:
    """Assess every firm under the active rule set (set-based, inside the database)."""
    day = _date(as_of) or today()
    ensure_statistics(_engine())  # a database never analysed plans the per-firm subqueries badly
    with session_scope(_engine(), _actor()) as session:
        with click.progressbar(length=3, label=f"评价 {day}", file=sys.stderr) as bar:
            run = assess_all(session, as_of=day, progress=lambda _step: bar.update(1))
        ended = expire_listings(session, day) if as_of is None else 0
    grades = " ".join(f"{g}:{run.grades.get(g, 0)}" for g in "ABCD") if run.grades else ""
    click.echo(
        f"{day} 规则集 v{run.rule_set_version}:{run.firms} 家企业({grades});"
        f"拟列入黑榜 {run.black_proposed},新列入红榜 {run.red_listed},续期 {run.red_renewed}"
        + (f",期满移出 {ended}" if ended else "")
        + "。"
    )


@credit_cli.command("check")
@click.argument("uscc")
@click.option("--purpose", default="permit", show_default=True, type=click.Choice(list(PURPOSES)))
@click.option("--as-of", "as_of", default=None, help="The date to answer for (YYYY-MM-DD); default today.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON (the API's shape).")
def check_command(uscc: str, purpose: str, as_of: str | None, as_json: bool) -> None:
    """A firm's grade, lists and the measures that apply for a purpose. Exit status 2 for an unknown firm."""
    day = _date(as_of)
    from credit.services.signing import SigningError, verification_code

    try:
        data = _check_and_log(uscc, purpose, day)
    except SigningError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"{data['name']}({data['uscc']})  {data['as_of']}  规则集 v{data['rule_set']}")
    click.echo(f"信用等级 {data['grade']},得分 {data['score']}  回执 {data['check_id']}")
    for entry in data["lists"]:
        click.echo(f"  {entry['list']} {entry['status']} {entry['since']}–{entry['until'] or ''} {entry['reason']}")
    for measure in data["measures"]:
        click.echo(f"  措施[{purpose}] {measure['text']}(依据:{measure['basis']})")
    if not data["measures"]:
        click.echo(f"  {purpose}:无特别措施")
    click.echo(f"验证码 {verification_code(data['signature'])}（签名密钥 {data['key_id']}）")


def _check_and_log(uscc: str, purpose: str, day: date | None) -> dict:
    """One check answered, signed and logged (channel `cli`); exits 2 for an unknown firm (a recorded pilot
    code passes as a code: credit.services.pilot_codes)."""
    with session_scope(_engine(), _actor()) as session:
        try:
            code = validate_code(session, uscc)
        except UsccError as exc:
            fail(exc.message)
        answers, _changed = answer_checks(
            session.connection(), [code], purpose=purpose, as_of=day, cache=config_cache(_engine())
        )
        if code not in answers:
            click.echo(f"错误: 统一社会信用代码 {code} 未登记", err=True)
            sys.exit(2)
        conn = session.connection()
        signer = config_cache(_engine()).signer(conn, Path(current_app.config["SIGNING_KEY_DIR"]))
        return log_answers(conn, [answers[code]], Caller("cli", department="命令行"), signer=signer)[0]["answer"]


@credit_cli.command("demo")
@click.option("--firms", default=2000, show_default=True, type=click.IntRange(1, 2_000_000))
@click.option("--seed", default=2026, show_default=True)
def demo_command(firms: int, seed: int) -> None:
    """Fill the database with a realistic synthetic city (idempotent)."""
    with (
        session_scope(_engine(), Actor(label="system:demo", source="cli")) as session,
        click.progressbar(length=firms, label="生成演示数据", file=sys.stderr) as bar,
    ):
        signer = signer_for(session, Path(current_app.config["SIGNING_KEY_DIR"]))
        report = seed_demo(session, firms=firms, seed=seed, progress=bar.update, signer=signer)
    click.echo(
        f"演示企业:新增 {report.firms_created},已有 {report.firms_present};信用事件 {report.events_created} 条,已完成评价。"
    )
    if report.credentials:
        path = Path(current_app.instance_path) / "demo-credentials.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{name}\t{password}" for name, password in report.credentials.items()]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        click.echo(f"演示账号(用户名/密码,亦保存在 {path}):")
        for line in lines:
            click.echo(f"  {line}")


@credit_cli.group("api-key")
def api_key_cli() -> None:
    """Department API keys: create (the key is shown once), list, revoke."""


@api_key_cli.command("create")
@click.option("--department", required=True, help="The department that will hold the key (created on first use).")
@click.option("--scopes", required=True, help="check, record or check,record.")
@click.option("--label", default="", help="A note: the system or contact the key is for.")
def api_key_create_command(department: str, scopes: str, label: str) -> None:
    """Issue a key; its secret is printed once and only its hash is stored."""
    from credit.services.apikeys import ApiKeyError, create_api_key

    try:
        with session_scope(_engine(), _actor()) as session:
            issued = create_api_key(session, department=department, scopes=scopes, label=label)
            owner = " ".join(department.split())
    except ApiKeyError as exc:
        fail(str(exc))
    click.echo(issued.token)
    click.echo(
        f"已为 {owner} 创建 API 密钥 {issued.key.prefix}(权限 {issued.key.scopes})。"
        "密钥只显示这一次,系统不保存明文,请立即安全转交。",
        err=True,
    )


def _when(value) -> str:
    from credit.clock import BUREAU_TZ

    return value.astimezone(BUREAU_TZ).strftime("%Y-%m-%d %H:%M") if value else "-"


@api_key_cli.command("list")
def api_key_list_command() -> None:
    """Every key: prefix, department, scopes, created, last used, revoked (times in Beijing time)."""
    from sqlmodel import col, select

    from credit.models import ApiKey, Department

    with session_scope(_engine(), _actor()) as session:
        rows = session.exec(
            select(ApiKey, Department)
            .join(Department, col(ApiKey.department_id) == Department.id)
            .order_by(Department.name, col(ApiKey.created_at), col(ApiKey.id))
        ).all()
    click.echo("\t".join(("prefix", "department", "scopes", "created", "last_used", "revoked", "label")))
    for key, department in rows:
        click.echo(
            "\t".join(
                (
                    key.prefix,
                    department.name,
                    key.scopes,
                    _when(key.created_at),
                    _when(key.last_used_at),
                    _when(key.revoked_at),
                    key.label or "-",
                )
            )
        )


@api_key_cli.command("revoke")
@click.argument("prefix")
def api_key_revoke_command(prefix: str) -> None:
    """Stop a key from working at once; its record stays (idempotent)."""
    from sqlmodel import select

    from credit.models import ApiKey
    from credit.services.apikeys import revoke_api_key

    prefix = prefix.strip().partition(".")[0]  # a pasted whole token names its key by the prefix
    with session_scope(_engine(), _actor()) as session:
        key = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
        if key is None:
            fail(f"没有前缀为 {prefix} 的 API 密钥")
        already = key.revoked_at is not None  # type: ignore[union-attr]
        revoke_api_key(session, key)  # type: ignore[arg-type]
    if already:
        click.echo(f"API 密钥 {prefix} 已于 {_when(key.revoked_at)} 吊销。")  # type: ignore[union-attr]
    else:
        click.echo(f"已吊销 API 密钥 {prefix}。")


@credit_cli.group("listings")
def listings_cli() -> None:
    """Black-list due process (SPEC §2): serve notices, decide the proposals whose objection period is over."""


@listings_cli.command("serve")
@click.argument("ids", nargs=-1, type=int)
@click.option("--by", "by", required=True, help="The recorder or reviewer who records the service.")
@click.option("--on", "on", default=None, help="The day the notice reached the firm (YYYY-MM-DD); default today.")
@click.option(
    "--method",
    default="direct",
    show_default=True,
    type=click.Choice(["direct", "mail", "electronic", "public_notice"]),
    help="直接送达 / 邮寄送达 / 电子送达 / 公告送达 (for a public notice, --on is the day it was published).",
)
@click.option("--note", default="", help="What proves the service (receipt number, signature, notice address).")
@click.option("--all", "serve_all", is_flag=True, help="Every proposal whose notice is not served yet.")
def listings_serve_command(
    ids: tuple[int, ...], by: str, on: str | None, method: str, note: str, serve_all: bool
) -> None:
    """Record the service (送达) of black-list notices; the objection period runs from it. All or nothing."""
    from credit.models import Listing
    from credit.services.due_process import DueProcessError, serve_notices, unserved_proposals

    if serve_all == bool(ids):
        fail("须指定条目编号,或用 --all 登记全部未送达的告知书(二者择一)")
    day = _date(on, "--on") or today()
    try:
        with session_scope(_engine(), _actor()) as session:
            user = get_user(session, by)
            if user is None:
                raise DueProcessError(f"没有用户 {by}")
            session.info["actor"] = Actor(label=user.username, source="cli", user_id=user.id)
            if serve_all:
                listings = unserved_proposals(session, on=day)
            else:
                listings = []
                for listing_id in ids:
                    listing = session.get(Listing, listing_id)
                    if listing is None:
                        raise DueProcessError(f"没有编号为 {listing_id} 的榜单条目")
                    listings.append(listing)
            served = serve_notices(session, listings, by=user, on=day, method=method, note=note)
            lines = [(entry.id, entry.served_on, entry.deadline) for entry in served]
    except DueProcessError as exc:
        fail(str(exc))
    for listing_id, served_on, deadline in lines:
        due = f"异议期至 {deadline}" if deadline else "异议期无法计算(缺少法定工作日历)"
        click.echo(f"  #{listing_id} 送达日 {served_on},{due}")
    click.echo(f"已登记送达 {len(lines)} 件告知书。")


@listings_cli.command("approve-due")
@click.option("--by", "by", required=True, help="The reviewer in whose name the proposals are decided.")
@click.option("--as-of", "as_of", default=None, help="The decision date (YYYY-MM-DD); default today.")
def listings_approve_due_command(by: str, as_of: str | None) -> None:
    """Decide (list) every served proposal whose objection period is over with no open objection."""
    from credit.services.due_process import DueProcessError, approve_due

    day = _date(as_of) or today()
    try:
        with session_scope(_engine(), _actor()) as session:
            reviewer = _user(session, by, "reviewer")
            session.info["actor"] = Actor(label=reviewer.username, source="cli", user_id=reviewer.id)
            barred: list = []
            decided = approve_due(session, reviewer, on=day, barred=barred)
    except DueProcessError as exc:
        fail(str(exc))
    click.echo(f"{day}:{len(decided)} 家企业列入黑榜(告知已送达、异议期满且无未决异议),由 {reviewer.username} 决定。")
    if barred:
        ids = "、".join(f"#{entry.id}" for entry in barred)
        click.echo(f"另有 {len(barred)} 件因 {reviewer.username} 批准了其触发记录，按职责分离须由其他审核员决定：{ids}")


@credit_cli.group("calendar")
def calendar_cli() -> None:
    """The official working-day calendar (statutory holidays and 调休 make-up working days), per year."""


@calendar_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "by", default="system", help="Who enters it (for the record).")
def calendar_load_command(file: Path, by: str) -> None:
    """Load one or more years from a TOML or JSON file (year, source, holidays, workdays); all or nothing."""
    from credit.rules.calendar import CalendarError
    from credit.services.calendar import load_year, parse_calendar_file

    try:
        years = parse_calendar_file(file.read_text(encoding="utf-8"))
        with session_scope(_engine(), Actor(label=by, source="cli")) as session:
            results = [load_year(session, **year, created_by=by) for year in years]
            lines = [(r.row.year, r.row.version, r.created, r.deadlines_changed) for r in results]
    except (CalendarError, UnicodeDecodeError) as exc:
        fail(f"{file.name}: {exc}")
    for year, version, created, changed in lines:
        state = f"已载入为第 {version} 版" if created else f"与现行第 {version} 版相同,未变"
        extra = f",{changed} 件拟列入的异议期随之更新" if changed else ""
        click.echo(f"{year} 年:{state}{extra}。")


@calendar_cli.command("show")
@click.argument("year", type=int)
def calendar_show_command(year: int) -> None:
    """A year's calendar in force: its holidays, make-up working days and number of working days."""
    from datetime import timedelta

    from credit.services.calendar import working_calendar, year_versions

    with session_scope(_engine(), _actor()) as session:
        calendar = working_calendar(session)
        versions = year_versions(session, year)
    if not calendar.covers(year):
        click.echo(f"错误: {year} 年的法定工作日历尚未载入", err=True)
        sys.exit(2)
    current = calendar.years[year]
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    working = sum(1 for n in range(days) if current.is_working_day(first + timedelta(days=n)))
    click.echo(f"{year} 年 第 {current.version} 版(共 {len(versions)} 版),来源:{current.source}")
    click.echo(f"工作日 {working} 天")
    click.echo("节假日: " + " ".join(d.isoformat() for d in sorted(current.holidays)))
    click.echo("调休上班: " + " ".join(d.isoformat() for d in sorted(current.workdays)))


@credit_cli.command("publish")
@click.option("--period", default=None, help="The period: YYYY-MM (monthly) or YYYY-Qn (quarterly).")
@click.option("--as-of", "as_of", default=None, help="The snapshot date within the period; default its last day.")
@click.option("--correct", "correct", default=None, help="Publish a correction of this publication number.")
@click.option("--note", default="", help="Why the correction is made (required with --correct).")
def publish_command(period: str | None, as_of: str | None, correct: str | None, note: str) -> None:
    """Publish both lists of an ended period (idempotent: a period is published once), or a correction."""
    from credit.services.publications import PublicationError, publish_correction, publish_period
    from credit.services.signing import SigningError

    if not period and not correct:
        fail("须指定 --period YYYY-MM|YYYY-Qn,或以 --correct 编号 更正已有发布")
    if correct and as_of:
        fail("更正沿用原发布的快照日,不能再指定 --as-of")
    if note and not correct:
        fail("--note 只用于更正(--correct)")
    day = _date(as_of)
    try:
        with session_scope(_engine(), _actor()) as session:
            signer = signer_for(session, Path(current_app.config["SIGNING_KEY_DIR"]))
            if correct:
                publication = publish_correction(session, correct.strip(), note, published_by="cli", signer=signer)
                if period and period.strip() != publication.period:
                    raise PublicationError(f"发布 {correct} 的期次是 {publication.period},不是 {period}")
                created = True
            else:
                publication, created = publish_period(
                    session, period or "", as_of=day, published_by="cli", signer=signer
                )
    except (PublicationError, SigningError) as exc:
        fail(str(exc))
    if created:
        from credit.scheduler.jobs import store_downloads

        store_downloads(_engine(), publication.number)
    counts = f"红榜 {publication.red_count} 家,黑榜 {publication.black_count} 家"
    details = f"快照日 {publication.snapshot_date},规则集 v{publication.rule_set_version}"
    if not created:
        click.echo(f"{publication.number} 已发布过({counts};{details}),未重复发布。")
    elif correct:
        click.echo(f"已发布更正 {publication.number}(更正 {correct.strip()}):{counts};{details}。")
    else:
        click.echo(f"已发布 {publication.number}:{counts};{details}。")


@credit_cli.command("withdraw-publication")
@click.argument("number")
@click.option("--reason", required=True, help="Why it is withdrawn (shown to the public).")
@click.option("--by", "by", required=True, help="The admin who withdraws it.")
def withdraw_publication_command(number: str, reason: str, by: str) -> None:
    """Withdraw (撤回) a publication made in error: it stays in the archive, marked, with the reason."""
    from credit.services.publications import PublicationError, withdraw_publication

    try:
        with session_scope(_engine(), _actor()) as session:
            admin = _user(session, by, "admin")
            session.info["actor"] = Actor(label=admin.username, source="cli", user_id=admin.id)
            withdrawal = withdraw_publication(session, number, reason=reason, withdrawn_by=admin.username)
            day = withdrawal.withdrawn_on
    except PublicationError as exc:
        fail(str(exc))
    click.echo(f"已撤回发布 {number.strip()}({day}),原发布内容保留在档案中并标明撤回。")


@credit_cli.group("signing-key")
def signing_key_cli() -> None:
    """The bureau's Ed25519 signing keys (private halves in SIGNING_KEY_DIR, never in the database)."""


@signing_key_cli.command("create")
def signing_key_create_command() -> None:
    """Make a new signing key; the one in use until now is retired (and still verifies)."""
    from credit.services.signing import create_key

    with session_scope(_engine(), _actor()) as session:
        key = create_key(session, Path(current_app.config["SIGNING_KEY_DIR"]))
        click.echo(f"新签名密钥 {key.key_id}(Ed25519),公钥 {key.public_key}")


@signing_key_cli.command("list")
def signing_key_list_command() -> None:
    """Every signing key with its validity."""
    from sqlmodel import Session

    from credit.services.signing import all_keys

    with Session(_engine()) as session:
        keys = all_keys(session)
    if not keys:
        click.echo("尚无签名密钥(首次签名时自动生成,或运行 flask credit signing-key create)")
    for key in keys:
        state = f"停用于 {key.retired_on:%Y-%m-%d %H:%M}" if key.retired_on else "使用中"
        click.echo(f"{key.key_id}  {key.public_key}  自 {key.valid_from:%Y-%m-%d %H:%M}  {state}")


@credit_cli.command("verify")
def verify_command() -> None:
    """Verify the audit chain and every publication's seal (digest, signature, anchor); exit status 1
    naming the first audit entry and the first publication that do not verify."""
    from sqlmodel import Session

    from credit.services.integrity import anchors, verify_audit_chain, verify_publications

    with Session(_engine()) as session:
        watched = anchors(session)
        report = verify_audit_chain(session, watch=watched)
        published = verify_publications(session, watched if report.ok else None)
    failures = []
    if not report.ok:
        failures.append(f"审计日志校验失败：{report.failure}（此前 {report.entries} 条记录校验通过）")
    if not published.ok:
        failures.append(f"发布校验失败：{published.failure}（此前 {published.publications} 期校验通过）")
    if failures:
        for line in failures[:-1]:
            click.echo(f"错误: {line}", err=True)
        fail(failures[-1])
    click.echo(f"审计日志：{report.entries} 条记录校验通过，链头 {report.head}")
    unsigned = f"，其中 {published.unsigned} 期为签名功能启用前的发布，仅校验摘要" if published.unsigned else ""
    click.echo(f"发布：{published.publications} 期的摘要、签名与锚定的审计链头校验通过{unsigned}")


@credit_cli.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path) -> None:
    """Back up the whole database into the new FILE, consistent while the app writes (SQLite: the online
    backup API; PostgreSQL: pg_dump -Fc). Never overwrites a file; prints the counts and the audit chain head."""
    from credit.services.backup import BackupError, backup_database

    try:
        report = backup_database(_engine(), file)
    except BackupError as exc:
        fail(str(exc))
    click.echo(f"备份已写入 {report.path}：{report.summary()}")
    if not report.chain.ok:
        fail(f"备份中的审计日志校验失败：{report.chain.failure}")
    click.echo("签名私钥（SIGNING_KEY_DIR）和 SECRET_KEY 不在数据库中，请另行备份。")


@credit_cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="SQLite: replace a database that holds data (stop the web app and the scheduler first).",
)
def restore_command(file: Path, replace: bool) -> None:
    """Restore the database from a backup FILE made by `flask credit backup` (SQLite: checked first, then
    copied in; PostgreSQL: pg_restore into the new, empty database of DATABASE_URL), then verify it."""
    from credit.services.audit import record_action
    from credit.services.backup import BackupError, restore_database

    try:
        report = restore_database(_engine(), file, replace=replace)
    except BackupError as exc:
        fail(str(exc))
    click.echo(f"已从 {file} 恢复：{report.summary()}")
    if not report.chain.ok:
        fail(f"恢复后的审计日志校验失败：{report.chain.failure}")
    with session_scope(_engine(), _actor()) as session:  # the chain goes on with the restore itself
        record_action(
            session,
            action="restore",
            entity="database",
            note=f"从备份 {file.name} 恢复（审计链头 {report.chain.head}，{report.chain.entries} 条）",
        )


@credit_cli.command("scheduler")
@click.option("--once", is_flag=True, help="Run every job once (publishing only what is due) and exit.")
@click.option("--now", "now", default=None, help="Run as of this past date (YYYY-MM-DD, not after today), to catch up.")
def scheduler_command(once: bool, now: str | None) -> None:
    """Run the scheduler process: nightly assessment and expiry, periodic publication with catch-up at start.
    Run it as its own service, never inside the web workers; PUBLICATION_PERIOD=quarterly publishes by quarter."""
    import logging

    from credit.scheduler import run_scheduler
    from credit.services.publications import PublicationError

    day = _date(now, "--now")  # only to catch up as of a past day: never after today
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("credit").setLevel(logging.INFO)
    try:
        ok = run_scheduler(_engine(), now=day, once=once, key_dir=Path(current_app.config["SIGNING_KEY_DIR"]))
    except PublicationError as exc:
        fail(str(exc))
    if not ok:
        fail("有任务失败,详见日志")


@credit_cli.group("pilot-code")
def pilot_code_cli() -> None:
    """Legal pilot codes (试点代码): USCCs that fail only a check character, accepted as recorded exceptions."""


@pilot_code_cli.command("add")
@click.argument("code")
@click.option("--reason", required=True, help="Why the code is genuine although its check character fails.")
@click.option("--basis", required=True, help="The document that shows it (e.g. the registration authority's letter).")
@click.option("--by", "by", required=True, help="The admin who records the exception.")
def pilot_code_add_command(code: str, reason: str, basis: str, by: str) -> None:
    """Record CODE as a legal pilot code (audited; never edited or deleted)."""
    from credit.services.pilot_codes import PilotCodeError, record_pilot_code

    with session_scope(_engine(), _actor()) as session:
        admin = _user(session, by, "admin")
        session.info["actor"] = Actor(label=admin.username, source="cli", user_id=admin.id)
        try:
            entry = record_pilot_code(session, code=code, reason=reason, document_basis=basis, admin=admin)
        except PilotCodeError as exc:
            session.rollback()
            fail(str(exc))
    click.echo(f"已登记试点代码例外 {entry.code}（不符合：{entry.failed_rule}）。")


@pilot_code_cli.command("list")
def pilot_code_list_command() -> None:
    """Every recorded pilot code: code, failed rule, basis, reason."""
    from credit.services.pilot_codes import list_pilot_codes

    with session_scope(_engine(), _actor()) as session:
        rows = [(r.code, r.failed_rule, r.document_basis, r.reason) for r in list_pilot_codes(session)]
    click.echo("\t".join(("code", "failed_rule", "document_basis", "reason")))
    for row in rows:
        click.echo("\t".join(row))


@credit_cli.command("deliver")
@click.option("--once", is_flag=True, help="Deliver everything due now, then exit.")
def deliver_command(once: bool) -> None:
    """Run the webhook delivery worker (docs/webhooks.md): its own process, never a web worker. Several may
    run at once (leases keep them apart); SIGTERM or Ctrl-C stops it between deliveries."""
    import signal

    from credit.services.webhooks import WebhookSettings, run_worker

    stopping = {"now": False}

    def stop(*_args) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, stop)
    totals = {"delivered": 0, "retrying": 0, "parked": 0}

    def note(report) -> None:
        totals["delivered"] += report.delivered
        totals["retrying"] += report.retrying
        totals["parked"] += report.parked

    with contextlib.suppress(KeyboardInterrupt):
        run_worker(
            _engine(),
            WebhookSettings.from_config(current_app.config),
            once=once,
            stop=lambda: stopping["now"],
            on_pass=note,
        )
    click.echo(f"已投递 {totals['delivered']},待重试 {totals['retrying']},已搁置 {totals['parked']}")


@credit_cli.command("stats")
@click.option("--year", type=int, default=None, help="The year of the pass rates; default the year of --as-of.")
@click.option("--as-of", "as_of", default=None, help="The date of grades, lists and warnings (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def stats_command(year: int | None, as_of: str | None, as_json: bool) -> None:
    """Supervision statistics: pass rates, grades, red and black counts, 首席质量官, 红黄牌警示."""
    from credit.services.rulesets import active_ruleset
    from credit.services.statistics import StatisticsError, city_statistics, resolve_period, statistics_json

    day = _date(as_of)
    try:
        year, day = resolve_period(year, day, today())
    except StatisticsError as exc:
        fail(str(exc))
    with session_scope(_engine(), _actor()) as session:
        data = statistics_json(city_statistics(session, active_ruleset(session), year=year, as_of=day))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    rate = data["pass_rate"]
    shown = "-" if rate["rate"] is None else f"{rate['rate']:.2%}"
    click.echo(
        f"{data['year']} 年监督抽查 {rate['checks']} 批次,合格 {rate['passed']},合格率 {shown}(目标 {rate['target']:.0%})"
    )
    click.echo(f"{data['as_of']} 等级 " + " ".join(f"{g}:{n}" for g, n in data["grades"].items()))
    click.echo(f"红榜 {data['red']},黑榜 {data['black']},首席质量官 {data['cqo']['firms']} 家")
    for w in data["warnings"]:
        where = w.get("region") or w.get("industry")
        click.echo(
            f"  {'红牌' if w['level'] == 'red' else '黄牌'} {where} 不合格率 {w['rate']:.2%}(全市 {w['city_rate']:.2%})"
        )


# Commands of their own modules, registered on the group when it is imported.
import credit.web.plan_cli  # noqa: E402, F401
