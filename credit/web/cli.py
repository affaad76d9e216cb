"""`flask credit …`: the command line. Each command owns its unit of work; bad input exits non-zero with
a one-line reason and changes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from credit.db import session_scope
from credit.migrate import upgrade_to_head
from credit.models import Actor, User
from credit.services.demo import seed_demo
from credit.services.event_import import import_events
from credit.services.events import ensure_system_user
from credit.services.firms import import_firms
from credit.services.users import UserError, create_user, get_user

credit_cli = AppGroup("credit", help="质量信用红黑榜 commands.")


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
    revision = upgrade_to_head(_engine())
    with session_scope(_engine(), _actor()) as session:
        ensure_system_user(session)
    click.echo(f"数据库已就绪 (revision {revision}).")


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
            report = import_firms(session, file, progress=bar.update)
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
            report = import_events(session, file, recorder=recorder, approve_as=reviewer, progress=bar.update)
        if not report.ok:
            session.rollback()
            for error in report.errors:
                click.echo(str(error), err=True)
            fail(f"{file.name}: {len(report.errors)} 处错误,未导入任何数据。")
    state = f"已审核生效 {report.approved}" if reviewer else "待审核"
    batch = f",批次 #{report.batch_id}" if report.batch_id else ""
    click.echo(f"{report.rows} 行:新增 {report.created}({state}),已存在 {report.skipped}{batch}。")


@credit_cli.command("demo")
@click.option("--firms", default=2000, show_default=True, type=click.IntRange(1, 2_000_000))
@click.option("--seed", default=2026, show_default=True)
def demo_command(firms: int, seed: int) -> None:
    """Fill the database with a realistic synthetic city (idempotent)."""
    with (
        session_scope(_engine(), Actor(label="system:demo", source="cli")) as session,
        click.progressbar(length=firms, label="生成演示数据", file=sys.stderr) as bar,
    ):
        report = seed_demo(session, firms=firms, seed=seed, progress=bar.update)
    click.echo(f"演示企业:新增 {report.firms_created},已有 {report.firms_present}。")
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
