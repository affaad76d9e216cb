"""Tamper evidence (issue 11 #1): the audit log is a hash chain, and `flask credit verify` names the first
entry that does not verify — after someone with database access dropped the guards, changed or removed
rows and put the guards back."""

from __future__ import annotations

import itertools
import uuid

import pytest
from alembic import command
from sqlalchemy import text

from credit.db import make_engine, session_scope
from credit.migrate import alembic_config, upgrade_to_head
from credit.models import Actor
from credit.models.audit import GENESIS
from credit.services.audit import record_action
from tests.conftest import PG_URL, create_pg_database
from tests.factories import make_firm, make_user


def write_some_history(tx) -> None:
    with tx() as s:
        make_user(s, username="alice", role="admin")
        make_firm(s)
    with tx() as s:
        record_action(s, action="login_failed", entity="login", entity_id="mallory")


def audit_ids(engine) -> list[int]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT id FROM audit_log ORDER BY id"))]


def with_guards_lifted(engine, *statements: str) -> None:
    """What an insider with database access does: drop the append-only triggers, write, restore them."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            for sql in statements:
                conn.execute(text(sql))
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            triggers = conn.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'")
            ).all()
            for name, _sql in triggers:
                conn.execute(text(f"DROP TRIGGER {name}"))
            for sql in statements:
                conn.execute(text(sql))
            for _name, sql in triggers:
                conn.execute(text(sql))


def test_an_untouched_log_verifies(runner, tx):
    write_some_history(tx)
    result = runner.invoke(args=["credit", "verify"])
    assert result.exit_code == 0, result.output
    assert "校验通过" in result.output and "链头" in result.output


def test_every_entry_links_to_the_one_before(engine, tx):
    write_some_history(tx)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT prev_hash, hash FROM audit_log ORDER BY id")).all()
    assert rows[0][0] == GENESIS
    assert all(later[0] == earlier[1] for earlier, later in itertools.pairwise(rows))
    assert len({row[1] for row in rows}) == len(rows)


@pytest.mark.parametrize(
    ("tamper", "which"),
    [
        ("UPDATE audit_log SET note = 'nothing happened' WHERE id = {id}", "target"),
        ("UPDATE audit_log SET actor = 'someone-else' WHERE id = {id}", "target"),
        ("DELETE FROM audit_log WHERE id = {id}", "next"),
    ],
    ids=["note-rewritten", "actor-rewritten", "entry-deleted"],
)
def test_verify_names_the_entry_that_was_tampered_with(runner, engine, tx, tamper, which):
    write_some_history(tx)
    ids = audit_ids(engine)
    target = ids[len(ids) // 2]
    with_guards_lifted(engine, tamper.format(id=target))
    result = runner.invoke(args=["credit", "verify"])
    assert result.exit_code == 1, result.output
    named = target if which == "target" else ids[ids.index(target) + 1]
    assert f"audit_log #{named}:" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_back_dated_entry_slipped_in_is_found(runner, engine, tx):
    """Issue 11 #1: back-dated audit rows were accepted."""
    write_some_history(tx)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor, source, action, entity) "
                "VALUES ('2020-01-01 00:00:00', 'admin', 'web', 'update', 'firm')"
            )
        )
    newest = audit_ids(engine)[-1]
    result = runner.invoke(args=["credit", "verify"])
    assert result.exit_code == 1 and f"audit_log #{newest}:" in result.output


def test_the_migration_chains_the_entries_written_before_it(tmp_path):
    url = (
        create_pg_database(PG_URL, f"credit_chain_{uuid.uuid4().hex[:8]}")
        if PG_URL
        else f"sqlite:///{tmp_path / 'chain.db'}"
    )
    engine = make_engine(url)
    try:
        command.upgrade(alembic_config(engine), "0010")
        with engine.begin() as conn:
            for n in range(3):
                conn.execute(
                    text(
                        "INSERT INTO audit_log (at, actor, source, action, entity, after) "
                        "VALUES (:at, 'system', 'cli', 'create', 'firm', :after)"
                    ),
                    {"at": f"2026-0{n + 1}-01 08:00:00", "after": '{"name": "东莞某厂"}'},
                )
        upgrade_to_head(engine)
        from sqlmodel import Session

        from credit.services.integrity import verify_audit_chain

        with session_scope(engine, Actor.system("test")) as s:
            record_action(s, action="login", entity="login", entity_id="x")
        with Session(engine) as s:
            report = verify_audit_chain(s)
        assert report.ok, report.failure
        assert report.entries == 4
    finally:
        engine.dispose()


def test_every_bulk_path_appends_to_the_chain(runner, client, tx, monkeypatch):
    """The set-based writers of audit rows — an import approved as recorded (one row per event, in chunks),
    a batch approved afterwards, a department key's use noted by the check hot path — link every row into
    the chain, so `verify` passes after them (it failed after each before: rows inserted by INSERT … SELECT
    or a bare insert had no place in the chain)."""
    import io

    from sqlmodel import func, select

    from credit.models import AuditEntry, ImportBatch, User
    from credit.services import events as event_service
    from credit.services.apikeys import create_api_key
    from credit.services.event_import import import_events
    from credit.services.rulesets import ensure_default_ruleset

    monkeypatch.setattr(event_service, "AUDIT_CHUNK", 2)  # several chunks from a small file
    with tx() as s:
        ensure_default_ruleset(s)
        make_user(s, username="rec", role="recorder")
        make_user(s, username="rev", role="reviewer")
        firms = [make_firm(s) for _ in range(5)]
        token = create_api_key(s, department="财政局", scopes="check").token
        codes = [f.uscc for f in firms]

    def events_file(prefix: str) -> io.BytesIO:
        lines = "".join(
            f"{code},spot_check_pass,2026-01-0{i + 1},{prefix}{i},东莞市市场监督管理局\n"
            for i, code in enumerate(codes)
        )
        return io.BytesIO(("uscc,event_type,occurred_on,document_no,authority\n" + lines).encode())

    with tx() as s:
        rec, rev = (s.exec(select(User).where(User.username == name)).one() for name in ("rec", "rev"))
        assert import_events(s, events_file("A"), filename="a.csv", recorder=rec, approve_as=rev).ok
    with tx() as s:
        rec, rev = (s.exec(select(User).where(User.username == name)).one() for name in ("rec", "rev"))
        report = import_events(s, events_file("B"), filename="b.csv", recorder=rec)
        assert report.ok
        event_service.approve_batch(s, s.get(ImportBatch, report.batch_id), rev)
    answer = client.get(f"/api/v1/credit/{codes[0]}?purpose=permit", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    with tx() as s:
        approvals = s.exec(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.entity == "credit_event", AuditEntry.action == "update")
        ).one()
        assert approvals == 10  # one per approved event
        assert s.exec(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "api_key")).one() >= 2
    result = runner.invoke(args=["credit", "verify"])
    assert result.exit_code == 0, result.output
