"""The command line: init, create-user, demo — success paths, idempotence and clear refusals."""

from __future__ import annotations

from sqlmodel import Session, func, select

from credit.models import Firm, User
from credit.services.users import authenticate


def count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def test_init_is_idempotent(runner, engine):
    from alembic.script import ScriptDirectory

    from credit.migrate import alembic_config

    first = runner.invoke(args=["credit", "init"])
    second = runner.invoke(args=["credit", "init"])
    assert first.exit_code == second.exit_code == 0
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert f"revision {head}" in second.output
    assert count(engine, User) == 1  # the system account that records imports, created once


def test_create_user_with_password_from_stdin(runner, engine, session):
    result = runner.invoke(
        args=["credit", "create-user", "wang", "--role", "reviewer", "--password-stdin", "--display-name", "王审核"],
        input="long-enough-pw-1\n",
    )
    assert result.exit_code == 0, result.output
    user = session.exec(select(User).where(User.username == "wang")).one()
    assert (user.role, user.display_name) == ("reviewer", "王审核")
    assert user.password_hash != "long-enough-pw-1"
    assert authenticate(session, "wang", "long-enough-pw-1").user is not None


def test_create_user_refusals_change_nothing(runner, engine):
    runner.invoke(
        args=["credit", "create-user", "wang", "--role", "admin", "--password-stdin"], input="long-enough-pw-1\n"
    )
    cases = [
        (["wang", "--role", "admin"], "long-enough-pw-1\n", "已存在"),
        (["li", "--role", "admin"], "short1\n", "至少 10 位"),
        (["li", "--role", "admin"], "onlyletterslong\n", "字母和数字"),
        (["Li Si", "--role", "admin"], "long-enough-pw-1\n", "用户名"),
        (["li", "--role", "boss"], "long-enough-pw-1\n", "boss"),
    ]
    for args, stdin, message in cases:
        result = runner.invoke(args=["credit", "create-user", *args, "--password-stdin"], input=stdin)
        assert result.exit_code != 0, args
        assert message in result.output, result.output
    assert count(engine, User) == 1


def test_demo_builds_a_city_and_is_idempotent(runner, engine, app, tmp_path):
    app.instance_path = str(tmp_path)
    first = runner.invoke(args=["credit", "demo", "--firms", "120"])
    assert first.exit_code == 0, first.output
    assert count(engine, Firm) == 120
    assert count(engine, User) == 5  # a user per role, and a second reviewer (separation of duties)
    credentials = (tmp_path / "demo-credentials.txt").read_text().split()
    assert credentials[0::2] == ["admin", "recorder", "reviewer", "checker", "reviewer2"]
    assert oct((tmp_path / "demo-credentials.txt").stat().st_mode & 0o777) == "0o600"
    second = runner.invoke(args=["credit", "demo", "--firms", "120"])
    assert second.exit_code == 0
    assert "新增 0" in second.output
    assert count(engine, Firm) == 120 and count(engine, User) == 5
    with Session(engine) as s:
        regions = s.exec(select(func.count(func.distinct(Firm.region)))).one()
    assert regions > 10


def test_demo_users_can_log_in_with_the_printed_password(runner, app, auth, tmp_path):
    app.instance_path = str(tmp_path)
    runner.invoke(args=["credit", "demo", "--firms", "5"])
    name, password = (tmp_path / "demo-credentials.txt").read_text().split("\n")[0].split("\t")
    response = auth.login(name, password)
    assert response.status_code == 302


def test_unknown_command_option_fails(runner):
    assert runner.invoke(args=["credit", "demo", "--firms", "0"]).exit_code != 0
