"""Signed answers and sealed publications (issue 11): every check answer is signed and verifies with the
public key alone, as docs/api.md shows a department; receipts are confirmed with their verification code;
publications carry a digest, an audit anchor and a signature that `flask credit verify` checks, so a
rewrite by someone with database access — even of the whole audit chain — is named."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
from datetime import date
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from cryptography.exceptions import InvalidSignature
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from credit.clock import today
from credit.db import make_engine
from credit.models import CreditCheck, Listing, PublicationSeal
from credit.models.audit import entry_hash
from credit.services.rulesets import ensure_default_ruleset
from tests.conftest import post_form
from tests.factories import make_firm
from tests.test_api_events import bearer, issue_key

ROOT = Path(__file__).resolve().parents[1]
TODAY = today()
ATOM = "{http://www.w3.org/2005/Atom}"


def docs_snippet() -> dict:
    """The verification code of docs/api.md, exactly as printed there, run in a namespace of its own."""
    doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- verify-snippet[^>]*-->\n```python\n(.*?)```", doc, re.S)
    assert match, "docs/api.md lost its verification snippet"
    code = match.group(1)
    lines = [line for line in code.splitlines() if line.strip()]
    assert len(lines) <= 10, "the offline verification must stay within ten lines"
    namespace: dict = {}
    exec(compile(code, "docs/api.md", "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace


@pytest.fixture
def firms(tx) -> dict[str, str]:
    """A plain firm and a black-listed one (listed last month, so also in October's publication)."""
    with tx() as s:
        ensure_default_ruleset(s)
        plain, black = make_firm(s, name="东莞市普通五金有限公司"), make_firm(s, name="东莞市黑名化工有限公司")
        s.add(
            Listing(
                firm_id=black.id,  # type: ignore[arg-type]
                kind="black",
                status="listed",
                reason="36 个月内受到从重行政处罚",
                basis={"triggers": ["heavy_penalty"], "as_of": "2026-09-01", "rule_set_version": 1},
                rule_set_version=1,
                listed_from=date(2026, 9, 1),
                listed_until=date(2029, 9, 1),
            )
        )
        return {"plain": plain.uscc, "black": black.uscc}


@pytest.fixture
def token(tx) -> str:
    return issue_key(tx, scopes="check")


def check(client, token, uscc, purpose="procurement"):
    response = client.get(f"/api/v1/credit/{uscc}", query_string={"purpose": purpose}, headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def public_keys(client) -> list[dict]:
    return client.get("/api/v1/signing-keys").get_json()["keys"]


# --- answers -----------------------------------------------------------------------------------------


def test_the_docs_snippet_verifies_an_answer_with_the_public_key_alone(client, firms, token):
    answer = check(client, token, firms["black"])
    assert len(base64.b64decode(answer["signature"])) == 64
    assert answer["purpose"] == "procurement"
    verify_answer = docs_snippet()["verify_answer"]
    verify_answer(answer, public_keys(client))  # raises if it does not verify


@pytest.mark.parametrize(
    ("field", "value"),
    [("grade", "A"), ("measures", []), ("purpose", "permit"), ("check_id", "HC20261122AAAAAAAA"), ("extra", 1)],
)
def test_changing_one_field_fails_the_docs_snippet(client, firms, token, field, value):
    answer = check(client, token, firms["black"])
    verify_answer = docs_snippet()["verify_answer"]
    with pytest.raises(InvalidSignature):
        verify_answer({**answer, field: value}, public_keys(client))


def test_each_batch_item_is_signed_and_the_log_keeps_the_signed_answer(client, engine, firms, token):
    response = client.post(
        "/api/v1/credit/batch",
        json={"usccs": [firms["plain"], "914403001922038216", firms["black"]], "purpose": "bidding"},
        headers=bearer(token),
    )
    results = response.get_json()["results"]
    verify_answer, keys = docs_snippet()["verify_answer"], public_keys(client)
    verify_answer(results[0], keys)
    verify_answer(results[2], keys)
    assert results[1]["error"] == "not_found" and "signature" not in results[1]
    assert "signature" not in response.get_json()  # the envelope is not signed (docs/api.md)
    with Session(engine) as s:
        stored = {c.receipt: c.answer for c in s.exec(select(CreditCheck))}
    assert stored[results[0]["check_id"]] == results[0] and stored[results[2]["check_id"]] == results[2]


def test_the_cli_answer_is_signed(runner, client, firms):
    result = runner.invoke(args=["credit", "check", firms["black"], "--purpose", "land", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    docs_snippet()["verify_answer"](answer, public_keys(client))
    text_output = runner.invoke(args=["credit", "check", firms["black"]]).output
    assert re.search(r"验证码 [0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", text_output)


def test_a_web_check_is_signed_and_its_receipt_prints_the_code(client, auth, engine, firms):
    auth.login_as("checker")
    page = post_form(client, "/check", {"usccs": firms["black"], "purpose": "award"})
    assert page.status_code == 200
    with Session(engine) as s:
        logged = s.exec(select(CreditCheck)).one()
    docs_snippet()["verify_answer"](logged.answer, public_keys(client))
    from credit.services.signing import verification_code

    code = verification_code(logged.answer["signature"])
    receipt = client.get(f"/check/receipts/{logged.receipt}").get_data(as_text=True)
    assert code in receipt and logged.answer["key_id"] in receipt and "/receipts/verify" in receipt


def test_an_answer_signed_by_a_retired_key_still_verifies_after_rotation(client, runner, firms, token):
    before = check(client, token, firms["black"])
    assert runner.invoke(args=["credit", "signing-key", "create"]).exit_code == 0
    after = check(client, token, firms["black"])
    # The worker's cached signer followed the rotation at once (the config version moved with the key).
    assert after["key_id"] != before["key_id"]
    keys = public_keys(client)
    retired = next(k for k in keys if k["key_id"] == before["key_id"])
    assert retired["retired_on"] is not None
    verify_answer = docs_snippet()["verify_answer"]
    verify_answer(before, keys)
    verify_answer(after, keys)
    with pytest.raises(InvalidSignature):  # and only with its own key
        verify_answer({**before, "key_id": after["key_id"]}, keys)


def test_without_its_private_key_the_api_refuses_to_answer_unsigned(app, client, firms, token):
    first = check(client, token, firms["plain"])
    for path in Path(app.config["SIGNING_KEY_DIR"]).glob("*.pem"):
        path.unlink()
    from credit.services import hot_checks, signing

    signing._signers.clear()
    hot_checks.config_cache(app.extensions["credit.engine"]).signing = None
    response = client.get(f"/api/v1/credit/{firms['plain']}", query_string={"purpose": "permit"}, headers=bearer(token))
    assert response.status_code == 503 and response.get_json()["error"] == "signing_unavailable"
    assert first["signature"]


# --- receipts ----------------------------------------------------------------------------------------


def test_a_receipt_is_confirmed_with_its_code_and_only_with_it(client, firms, token):
    from credit.services.signing import verification_code

    answer = check(client, token, firms["black"])
    code = verification_code(answer["signature"])
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){3}[0-9A-HJKMNP-TV-Z]{4}", code)
    url = f"/api/v1/receipts/{answer['check_id']}"
    found = client.get(url, query_string={"code": code.lower().replace("-", " ")})
    assert found.status_code == 200 and found.headers["Cache-Control"] == "no-store"
    assert found.get_json()["answer"] == answer
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    refused = client.get(url, query_string={"code": wrong})
    unknown = client.get("/api/v1/receipts/HC20261122AAAAAAAA", query_string={"code": code})
    assert refused.status_code == unknown.status_code == 404
    assert refused.get_json() == unknown.get_json()  # the same answer: receipts cannot be probed
    assert firms["black"] not in refused.get_data(as_text=True)
    assert client.get(url).status_code == 422
    for hostile in ("验证码", "\x00", "A" * 500):  # found by schemathesis: never a 500
        assert client.get(url, query_string={"code": hostile}).status_code == 404
    assert client.get("/api/v1/receipts/%00", query_string={"code": code}).status_code == 404


def test_the_public_page_confirms_a_receipt(client, firms, token):
    from credit.services.signing import verification_code

    answer = check(client, token, firms["black"])
    assert client.get("/receipts/verify").status_code == 200
    good = post_form(
        client, "/receipts/verify", {"receipt": answer["check_id"], "code": verification_code(answer["signature"])}
    )
    page = good.get_data(as_text=True)
    assert good.status_code == 200 and "回执真实" in page and answer["name"] in page
    assert good.headers["Cache-Control"] == "no-store"
    bad = post_form(client, "/receipts/verify", {"receipt": answer["check_id"], "code": "0000-0000-0000-0000"})
    assert bad.status_code == 404 and answer["name"] not in bad.get_data(as_text=True)
    assert client.post("/receipts/verify", data={"receipt": answer["check_id"], "code": "x"}).status_code == 400


# --- publications ------------------------------------------------------------------------------------


def publish(runner, period="2026-10"):
    result = runner.invoke(args=["credit", "publish", "--period", period])
    assert result.exit_code == 0, result.output


def recompute_digest(publication: dict) -> str:
    """The digest as docs/security.md tells anyone to recompute it from the publication's JSON."""
    seal = publication["seal"]
    header = {
        name: publication[name]
        for name in (
            "number",
            "period",
            "period_start",
            "period_end",
            "snapshot_date",
            "rule_set_version",
            "corrects",
            "correction_note",
            "red_count",
            "black_count",
            "published_at",
        )
    }
    header.update(audit_entry=seal["audit_entry"], audit_head=seal["audit_head"])
    lines = [header] + [{**entry, "list": kind} for kind in ("red", "black") for entry in publication[kind]]
    data = b"".join(
        json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for line in lines
    )
    return hashlib.sha256(data).hexdigest()


def test_a_publication_is_sealed_signed_and_shows_its_digest(client, runner, firms):
    publish(runner)
    publication = client.get("/api/v1/publications/2026-10").get_json()
    seal = publication["seal"]
    assert publication["black_count"] == 1 and publication["black"][0]["uscc"] == firms["black"]
    assert re.fullmatch(r"[0-9a-f]{64}", seal["digest"]) and seal["audit_entry"] is not None
    assert recompute_digest(publication) == seal["digest"]
    docs_snippet()["verify_answer"](seal, public_keys(client))
    page = client.get("/publications/2026-10").get_data(as_text=True)
    assert seal["digest"] in page and seal["audit_head"] in page and seal["key_id"] in page
    feed = ET.fromstring(client.get("/feed.atom").data)  # noqa: S314 - our own feed
    summary = feed.find(f"{ATOM}entry/{ATOM}summary").text  # type: ignore[union-attr]
    assert seal["digest"] in summary and seal["audit_head"] in summary
    download = json.loads(client.get("/publications/2026-10.json").data)
    assert download["seal"] == seal
    verified = runner.invoke(args=["credit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "发布：1 期" in verified.output


def copy_of(db_url: str, tmp_path: Path) -> str:
    """A copy of the test's database to tamper with: the SQLite file copied; on PostgreSQL the test's own
    database (it is thrown away after the test)."""
    if db_url.startswith("postgresql"):
        return db_url
    copy = tmp_path / "tampered.db"
    # Through SQLite's backup API: a plain file copy would miss what is still in the write-ahead log.
    source, target = sqlite3.connect(make_url(db_url).database or ""), sqlite3.connect(copy)
    with target:
        source.backup(target)
    source.close()
    target.close()
    return f"sqlite:///{copy}"


def with_guards_lifted(url: str, table: str, *statements: tuple[str, dict]) -> None:
    """What an insider with database access does: drop the table's immutability triggers, write, put
    them back."""
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            for sql, params in statements:
                conn.execute(text(sql), params)
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            triggers = conn.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"), {"t": table}
            ).all()
            assert triggers, f"{table} has no immutability trigger"
            for name, _sql in triggers:
                conn.execute(text(f"DROP TRIGGER {name}"))
            for sql, params in statements:
                conn.execute(text(sql), params)
            for _name, sql in triggers:
                conn.execute(text(sql))
    engine.dispose()


REWRITE_ENTRY = ("UPDATE publication_entry SET name = '东莞市清白化工有限公司' WHERE publication_id = 2", {})


def verify_on(url: str, app) -> tuple[int, str]:
    """`flask credit verify` on the database at `url`, with the app's keys."""
    from config import TestConfig
    from credit.web import create_app

    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = url
    config.SIGNING_KEY_DIR = app.config["SIGNING_KEY_DIR"]
    other = create_app(config)
    try:
        result = other.test_cli_runner().invoke(args=["credit", "verify"])
    finally:
        other.extensions["credit.engine"].dispose()
    return result.exit_code, result.output


@pytest.fixture
def two_publications(runner, firms, app):
    """September and October published (today is 2026-11-22), both verifying."""
    publish(runner, "2026-09")
    publish(runner, "2026-10")
    assert runner.invoke(args=["credit", "verify"]).exit_code == 0


def test_verify_names_the_publication_whose_entry_was_rewritten(app, db_url, tmp_path, two_publications):
    url = copy_of(db_url, tmp_path)
    with_guards_lifted(url, "publication_entry", REWRITE_ENTRY)
    status, output = verify_on(url, app)
    assert status == 1, output
    assert "publication 2026-10:" in output and "2026-09:" not in output
    assert "摘要不符" in output


def test_verify_names_a_publication_whose_digest_was_forged(app, db_url, tmp_path, two_publications):
    """The insider also recomputes the digest over the rewritten entries and writes it into the seal: the
    signature, which they cannot make, no longer matches."""
    from credit.services.publications.seals import stored_digest

    url = copy_of(db_url, tmp_path)
    with_guards_lifted(url, "publication_entry", REWRITE_ENTRY)
    engine = make_engine(url)
    with Session(engine) as s:
        seal = s.exec(select(PublicationSeal).where(PublicationSeal.publication_id == 2)).one()
        digest = stored_digest(s.connection(), 2, audit_entry=seal.audit_entry_id, audit_head=seal.audit_head)
    engine.dispose()
    forge = ("UPDATE publication_seal SET digest = :digest WHERE publication_id = 2", {"digest": digest})
    with_guards_lifted(url, "publication_seal", forge)
    status, output = verify_on(url, app)
    assert status == 1 and "publication 2026-10:" in output and "签名无效" in output, output


def test_verify_names_a_publication_whose_seal_was_deleted(app, db_url, tmp_path, two_publications):
    url = copy_of(db_url, tmp_path)
    with_guards_lifted(url, "publication_seal", ("DELETE FROM publication_seal WHERE publication_id = 1", {}))
    status, output = verify_on(url, app)
    assert status == 1 and "publication 2026-09:" in output and "没有封存记录" in output, output


def test_a_rewrite_of_the_whole_audit_chain_shows_at_the_anchor(app, db_url, tmp_path, two_publications):
    """An insider rewrites an entry from before the publications and re-hashes the whole chain from there
    on: the chain verifies on its own, but the publications' signed anchors no longer match it."""
    from sqlalchemy import select as core_select

    from credit.models import AuditEntry
    from credit.models.audit import CHAINED_FIELDS

    url = copy_of(db_url, tmp_path)
    engine = make_engine(url)
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    with Session(engine) as s:
        first_anchor = min(s.exec(select(PublicationSeal.audit_entry_id)).all())  # type: ignore[type-var]
        rows = [
            dict(r)
            for r in s.execute(
                core_select(table.c.id, *(table.c[n] for n in CHAINED_FIELDS)).order_by(table.c.id)
            ).mappings()
        ]
    engine.dispose()
    target = next(i for i, r in enumerate(rows) if 1 < r["id"] < first_anchor)
    head = rows[target]["prev_hash"]
    statements = []
    for row in rows[target:]:
        if row is rows[target]:
            row["note"] = "nothing happened"
        row["prev_hash"] = head
        head = entry_hash(row)
        statements.append(
            (
                "UPDATE audit_log SET prev_hash = :prev, hash = :hash, note = :note WHERE id = :id",
                {"prev": row["prev_hash"], "hash": head, "note": row["note"], "id": row["id"]},
            )
        )
    with_guards_lifted(url, "audit_log", *statements)
    status, output = verify_on(url, app)
    assert status == 1, output
    assert "审计日志校验失败" not in output  # the rewritten chain holds together…
    assert "publication 2026-09:" in output and "锚定的审计记录" in output  # …the first anchor does not


def test_the_migration_seals_publications_made_before_it(engine, tx, firms):
    """Publications of an older version: 0013 seals them (digest and anchor, no signature — a signature
    made at upgrade would vouch only for what the database says then); verify accepts them as such."""
    from alembic import command

    from credit.migrate import alembic_config, upgrade_to_head
    from credit.services.integrity import anchors, verify_audit_chain, verify_publications
    from credit.services.publications import publish_period

    with tx() as s:
        publish_period(s, "2026-10", published_by="test", today=TODAY)
    with Session(engine) as s:
        sealed_then = s.exec(select(PublicationSeal)).one().digest
    command.downgrade(alembic_config(engine), "0012")
    upgrade_to_head(engine)
    with Session(engine) as s:
        seal = s.exec(select(PublicationSeal)).one()
        assert seal.backfilled and seal.signature is None and seal.digest == sealed_then
        watched = anchors(s)
        assert verify_audit_chain(s, watch=watched).ok
        report = verify_publications(s, watched)
    assert report.ok and report.unsigned == 1, report.failure


def test_an_unsigned_seal_newer_than_the_keys_does_not_verify(engine, tx, client, firms, token):
    check(client, token, firms["plain"])  # the first answer makes the first key
    from credit.services.integrity import anchors, verify_audit_chain, verify_publications
    from credit.services.publications import publish_period

    with tx() as s:
        publish_period(s, "2026-10", published_by="test", today=TODAY)
    with Session(engine) as s:
        watched = anchors(s)
        verify_audit_chain(s, watch=watched)
        report = verify_publications(s, watched)
    assert not report.ok and "publication 2026-10: 封存记录没有签名" in (report.failure or "")
