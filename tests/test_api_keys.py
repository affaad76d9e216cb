"""Department API keys: issued by the CLI (shown once, stored hashed), listed, revoked; and the bearer
authentication every API route relies on (401 for a missing or bad key, 403 for a missing scope)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from credit.models import Actor, ApiKey, AuditEntry, Department, utcnow
from credit.services.apikeys import create_api_key
from tests.conftest import SETUP_ENTITY

TOKEN_RE = re.compile(r"^(ck[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$")
DEPARTMENT = "佛山市发展和改革局"


def issue_key(tx, *, department: str = DEPARTMENT, scopes: str = "record") -> str:
    with tx(Actor.system("test")) as s:
        return create_api_key(s, department=department, scopes=scopes).token


def all_text(engine, table: str) -> str:
    """Every value of every row of a table, as one string (to look for a leaked secret)."""
    with engine.connect() as conn:
        return "\n".join(" ".join(str(v) for v in row) for row in conn.execute(text(f"SELECT * FROM {table}")))


def count(engine, model) -> int:
    """Rows of a table (audit entries: those the test wrote, not the ones of the initialised database)."""
    query = select(func.count()).select_from(model)
    if model is AuditEntry:
        query = query.where(AuditEntry.entity != SETUP_ENTITY)
    with Session(engine) as s:
        return s.exec(query).one()


def create_via_cli(runner, *args: str):
    return runner.invoke(args=["credit", "api-key", "create", *args])


# --- CLI -----------------------------------------------------------------------------------------


def test_create_prints_the_token_once_and_stores_only_its_hash(runner, engine, client):
    result = create_via_cli(
        runner, "--department", f"  {DEPARTMENT} ", "--scopes", "record,check", "--label", "投资项目"
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.splitlines()[0]
    match = TOKEN_RE.match(token)
    assert match, result.stdout
    prefix, secret = match.groups()
    assert result.stdout.strip() == token  # the token alone on stdout: easy to capture in a script
    assert result.output.count(secret) == 1
    assert "不保存" in result.stderr and prefix in result.stderr

    with Session(engine) as s:
        key, department = s.exec(select(ApiKey, Department).join(Department)).one()
    assert (key.prefix, key.scopes, key.label, department.name) == (prefix, "check,record", "投资项目", DEPARTMENT)
    assert key.secret_hash != secret and len(key.secret_hash) == 64
    for table in ("api_key", "department", "audit_log"):
        assert secret not in all_text(engine, table), table
    with Session(engine) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.entity == "api_key")).one()
    assert (entry.actor, entry.source, entry.after["secret_hash"]) == ("system", "cli", "***")

    response = client.get("/api/v1/events/1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404  # the key works: past authentication, there is just no such event


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--department", DEPARTMENT, "--scopes", "admin"], "未知:admin"),
        (["--department", DEPARTMENT, "--scopes", "check,delete"], "未知:delete"),
        (["--department", DEPARTMENT, "--scopes", " , "], "权限范围"),
        (["--department", "   ", "--scopes", "check"], "部门名称不能为空"),
    ],
)
def test_create_refusals_write_nothing(runner, engine, args, reason):
    result = create_via_cli(runner, *args)
    assert result.exit_code == 1
    assert reason in result.output
    assert len(result.output.strip().splitlines()) == 1  # one line, no traceback
    assert count(engine, ApiKey) == count(engine, Department) == count(engine, AuditEntry) == 0


def test_create_requires_department_and_scopes(runner, engine):
    assert create_via_cli(runner, "--scopes", "check").exit_code != 0
    assert create_via_cli(runner, "--department", DEPARTMENT).exit_code != 0
    assert count(engine, ApiKey) == 0


def test_list_shows_every_key_and_no_secret(runner, tx, client):
    first = issue_key(tx, scopes="check")
    second = issue_key(tx, department="国家开发银行佛山分行", scopes="check,record")
    client.get("/api/v1/events/1", headers={"Authorization": f"Bearer {second}"})  # marks it used
    assert runner.invoke(args=["credit", "api-key", "revoke", first.split(".")[0]]).exit_code == 0

    result = runner.invoke(args=["credit", "api-key", "list"])
    assert result.exit_code == 0, result.output
    header, *rows = [line.split("\t") for line in result.output.strip().splitlines()]
    assert header == ["prefix", "department", "scopes", "created", "last_used", "revoked", "label"]
    by_prefix = {row[0]: row for row in rows}
    assert set(by_prefix) == {first.split(".")[0], second.split(".")[0]}
    revoked = by_prefix[first.split(".")[0]]
    used = by_prefix[second.split(".")[0]]
    assert (
        revoked[1:3] == [DEPARTMENT, "check"]
        and revoked[4] == "-"
        and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d", revoked[5])
    )
    assert used[1:3] == ["国家开发银行佛山分行", "check,record"] and used[5] == "-"
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d", used[4])
    for token in (first, second):
        assert token.split(".")[1] not in result.output


def test_revoke_stops_the_key_at_once(runner, tx, client, engine):
    token = issue_key(tx)
    prefix = token.split(".")[0]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/events/1", headers=headers).status_code == 404

    result = runner.invoke(args=["credit", "api-key", "revoke", prefix])
    assert result.exit_code == 0, result.output
    assert prefix in result.output
    response = client.get("/api/v1/events/1", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"

    again = runner.invoke(args=["credit", "api-key", "revoke", prefix])
    assert again.exit_code == 0 and "已于" in again.output  # idempotent
    with Session(engine) as s:
        assert s.exec(select(ApiKey)).one().revoked_at is not None  # the record stays


def test_revoke_unknown_prefix_fails(runner, tx, engine):
    issue_key(tx)
    before = count(engine, AuditEntry)
    result = runner.invoke(args=["credit", "api-key", "revoke", "ck000000000000"])
    assert result.exit_code == 1
    assert "ck000000000000" in result.output and len(result.output.strip().splitlines()) == 1
    assert count(engine, AuditEntry) == before


# --- bearer authentication -----------------------------------------------------------------------


@pytest.fixture
def record_key(tx) -> str:
    return issue_key(tx, scopes="record")


def _revoked(tx) -> str:
    token = issue_key(tx)
    with tx(Actor.system("test")) as s:
        key = s.exec(select(ApiKey).where(ApiKey.prefix == token.split(".")[0])).one()
        key.revoked_at = utcnow()
        s.add(key)
    return token


@pytest.mark.parametrize(
    ("make_header", "invalid_token"),
    [
        (lambda tx, key: None, False),
        (lambda tx, key: "", False),
        (lambda tx, key: f"Basic {key}", True),
        (lambda tx, key: key, True),  # the token without a scheme
        (lambda tx, key: "Bearer", True),
        (lambda tx, key: "Bearer not-a-token", True),
        (lambda tx, key: f"Bearer {key.split('.')[0]}.", True),
        (lambda tx, key: f"Bearer {key.split('.')[0]}.{'A' * 43}", True),  # known prefix, wrong secret
        (lambda tx, key: f"Bearer ck000000000000.{key.split('.')[1]}", True),  # unknown prefix
        (lambda tx, key: f"Bearer {_revoked(tx)}", True),
    ],
    ids=[
        "none",
        "empty",
        "basic",
        "no-scheme",
        "no-token",
        "malformed",
        "no-secret",
        "wrong-secret",
        "unknown",
        "revoked",
    ],
)
@pytest.mark.parametrize(("method", "path"), [("post", "/api/v1/events"), ("get", "/api/v1/events/1")])
def test_missing_or_bad_key_is_401(client, tx, record_key, make_header, invalid_token, method, path):
    header = make_header(tx, record_key)
    headers = {} if header is None else {"Authorization": header}
    response = getattr(client, method)(path, headers=headers, json={"uscc": "x"})
    assert response.status_code == 401
    assert response.is_json
    body = response.get_json()
    assert body["error"] == "unauthorized" and body["message"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) is invalid_token


def test_bearer_scheme_is_case_insensitive(client, record_key):
    response = client.get("/api/v1/events/1", headers={"Authorization": f"bearer {record_key}"})
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "path"), [("post", "/api/v1/events"), ("get", "/api/v1/events/1")])
def test_key_without_the_scope_is_403(client, tx, engine, method, path):
    token = issue_key(tx, scopes="check")
    response = getattr(client, method)(path, headers={"Authorization": f"Bearer {token}"}, json={})
    assert response.status_code == 403
    body = response.get_json()
    assert body["error"] == "forbidden" and "record" in body["message"]
    assert count(engine, AuditEntry) == 3  # department, key, and its first use: no event was written


def test_last_used_is_noted_at_most_once_a_minute(client, tx, engine, record_key):
    prefix = record_key.split(".")[0]
    headers = {"Authorization": f"Bearer {record_key}"}

    def key_and_writes():
        with Session(engine) as s:
            key = s.exec(select(ApiKey).where(ApiKey.prefix == prefix)).one()
            writes = s.exec(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "api_key")).one()
        return key.last_used_at, writes

    assert key_and_writes()[0] is None
    client.get("/api/v1/events/1", headers=headers)
    first_use, writes = key_and_writes()
    assert first_use is not None and utcnow() - first_use < timedelta(minutes=1)
    for _ in range(3):
        client.get("/api/v1/events/1", headers=headers)
    assert key_and_writes() == (first_use, writes)  # no write per request

    with tx(Actor.system("test")) as s:
        key = s.exec(select(ApiKey).where(ApiKey.prefix == prefix)).one()
        key.last_used_at = utcnow() - timedelta(minutes=2)
        s.add(key)
    client.get("/api/v1/events/1", headers=headers)
    last_use, _ = key_and_writes()
    assert utcnow() - last_use < timedelta(minutes=1)
    with Session(engine) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.entity == "api_key").order_by(AuditEntry.id.desc())).first()
    assert (entry.actor, entry.source, set(entry.after)) == (f"api:{DEPARTMENT}", "api", {"last_used_at"})


def test_failed_authentication_writes_nothing(client, tx, engine, record_key):
    before = count(engine, AuditEntry)
    client.get("/api/v1/events/1", headers={"Authorization": f"Bearer {record_key.split('.')[0]}.{'A' * 43}"})
    with Session(engine) as s:
        assert s.exec(select(ApiKey)).one().last_used_at is None
    assert count(engine, AuditEntry) == before
