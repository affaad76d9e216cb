"""The audit log: every write from every entry point leaves an entry with who, what, before and after;
the log itself can only grow."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from credit.models import Actor, AuditEntry, Firm
from credit.models.audit import AuditLogIsAppendOnly, UnauditedWrite
from tests.conftest import SETUP_ENTITY, TEST_PASSWORD, post_form
from tests.factories import firm_row, make_firm, make_user


def entries(engine, **filters) -> list[AuditEntry]:
    with Session(engine) as s:
        query = select(AuditEntry).where(AuditEntry.entity != SETUP_ENTITY).order_by(AuditEntry.id)
        for name, value in filters.items():
            query = query.where(getattr(AuditEntry, name) == value)
        return list(s.exec(query))


def test_service_write_is_audited_with_actor_and_values(session, engine):
    session.info["actor"] = Actor(label="wang", source="test", user_id=7)
    firm = make_firm(session, name="东莞市审计测试电子有限公司")
    session.commit()
    (entry,) = entries(engine, entity="firm", action="create")
    assert (entry.actor, entry.actor_user_id, entry.source) == ("wang", 7, "test")
    assert entry.entity_id == str(firm.id)
    assert entry.after["uscc"] == firm.uscc
    assert entry.after["name"] == "东莞市审计测试电子有限公司"
    assert entry.before is None


def test_update_records_only_changed_values(session, engine):
    firm = make_firm(session)
    session.commit()
    old_address = firm.address
    firm.address = "东莞市南城街道新路1号"
    session.add(firm)
    session.commit()
    (entry,) = entries(engine, entity="firm", action="update")
    assert entry.before == {"address": old_address}
    assert entry.after == {"address": "东莞市南城街道新路1号"}


def test_delete_is_audited_with_the_old_row(session, engine):
    firm = make_firm(session)
    session.commit()
    session.delete(firm)
    session.commit()
    (entry,) = entries(engine, entity="firm", action="delete")
    assert entry.before["uscc"] == firm.uscc


def test_write_without_actor_is_refused(engine):
    with Session(engine) as s:
        s.add(Firm(**firm_row()))
        with pytest.raises(UnauditedWrite):
            s.flush()
    with Session(engine) as s:
        assert s.exec(select(Firm)).all() == []


def test_passwords_never_reach_the_log(session, engine):
    make_user(session, username="liu", role="admin", password="very-secret-pw-1")
    session.commit()
    (entry,) = entries(engine, entity="users", action="create")
    assert entry.after["password_hash"] == "***"
    assert "very-secret" not in str(entry.after)


def test_orm_cannot_change_or_delete_entries(session, engine):
    make_firm(session)
    session.commit()
    entry = session.exec(select(AuditEntry).where(AuditEntry.entity != SETUP_ENTITY)).first()
    entry.actor = "someone-else"
    session.add(entry)
    with pytest.raises(AuditLogIsAppendOnly):
        session.flush()
    session.rollback()
    session.delete(session.exec(select(AuditEntry)).first())
    with pytest.raises(AuditLogIsAppendOnly):
        session.flush()


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"])
def test_database_refuses_update_and_delete(session, engine, statement):
    make_firm(session)
    session.commit()
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    assert entries(engine)[0].actor == "tester"


# Web entry points ----------------------------------------------------------------------------------


def test_web_firm_create_and_edit_are_audited_as_the_user(client, auth, engine):
    auth.login_as("recorder")
    row = firm_row()
    assert post_form(client, "/admin/firms/new", row).status_code == 302
    (created,) = entries(engine, entity="firm", action="create")
    assert (created.actor, created.source) == ("recorder", "web")
    post_form(
        client, f"/admin/firms/{row['uscc']}/edit", {**row, "scale": "规上" if row["scale"] == "规下" else "规下"}
    )
    (updated,) = entries(engine, entity="firm", action="update")
    assert updated.before["scale"] == row["scale"]
    assert updated.actor == "recorder"


def test_web_user_management_is_audited(client, auth, engine):
    auth.login_as("admin")
    post_form(client, "/admin/users/new", {"username": "zhang", "role": "recorder", "password": "abc-123-def-456"})
    created = entries(engine, entity="users", action="create")[-1]
    assert created.after["username"] == "zhang"
    assert created.actor == "admin"
    user_id = created.entity_id
    post_form(client, f"/admin/users/{user_id}/edit", {"role": "reviewer", "display_name": "张三", "is_active": "y"})
    post_form(client, f"/admin/users/{user_id}/password", {"reset-password": "new-pass-789-x"})
    updates = [e for e in entries(engine, entity="users", action="update") if e.entity_id == user_id]
    assert updates[0].before["role"] == "recorder" and updates[0].after["role"] == "reviewer"
    assert updates[1].after["password_hash"] == "***"
    assert updates[1].after["session_epoch"] == 1


def test_logins_and_logouts_are_audited(client, auth, tx, engine):
    with tx() as s:
        make_user(s, username="chen", role="reviewer")
    auth.login("chen", "wrong-password")
    auth.login("chen", TEST_PASSWORD)
    auth.logout()
    actions = [(e.action, e.entity_id, e.actor) for e in entries(engine, entity="login")]
    assert actions == [("login_failed", "chen", "anonymous"), ("login", "chen", "chen"), ("logout", "chen", "chen")]


def test_cli_writes_are_audited(runner, engine):
    result = runner.invoke(
        args=["credit", "create-user", "zhao", "--role", "checker", "--password-stdin"], input="pass-word-123\n"
    )
    assert result.exit_code == 0, result.output
    entry = entries(engine, entity="users", action="create")[-1]
    assert (entry.actor, entry.source) == ("system", "cli")
