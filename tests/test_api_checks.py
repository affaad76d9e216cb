"""`GET /api/v1/credit/<uscc>` and `POST /api/v1/credit/batch`: the answer and its measures, every check
logged with a receipt, JSON errors, no caching, and a per-key rate limit shared through the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, func, select, text

from credit.clock import today
from credit.models import Actor, CreditCheck, Listing
from credit.services.check_log import check_firms, log_check
from credit.services.checks import check_firm
from credit.services.events import approve_event, record_event
from credit.services.rulesets import ensure_default_ruleset
from credit.web.api.openapi import openapi_document
from credit.web.db import dispose_engines
from tests.factories import make_firm, make_user
from tests.test_api_events import assert_matches, bearer, issue_key

TODAY = today()
UNKNOWN = "914403001922038216"  # valid, not registered by the factories


@pytest.fixture
def firms(tx) -> dict[str, str]:
    """A plain firm, a black-listed one, a red-listed one and one with a recent negative event."""
    with tx() as s:
        ensure_default_ruleset(s)
        plain, black, red, negative = (make_firm(s) for _ in range(4))
        for firm, kind in ((black, "black"), (red, "red")):
            s.add(
                Listing(
                    firm_id=firm.id,  # type: ignore[arg-type]
                    kind=kind,
                    status="listed",
                    reason=f"测试{kind}",
                    basis={},
                    rule_set_version=1,
                    listed_from=TODAY - timedelta(days=30),
                    listed_until=TODAY + timedelta(days=300),
                )
            )
        recorder = make_user(s, role="recorder")
        reviewer = make_user(s, role="reviewer")
        event = record_event(
            s,
            {
                "uscc": negative.uscc,
                "event_type": "interview",
                "occurred_on": (TODAY - timedelta(days=40)).isoformat(),
                "document_no": "约-9",
                "authority": "市局",
            },
            recorder=recorder,
        )
        approve_event(s, event, reviewer)
        return {"plain": plain.uscc, "black": black.uscc, "red": red.uscc, "negative": negative.uscc}


@pytest.fixture
def token(tx) -> str:
    return issue_key(tx, scopes="check")


def check(client, token, uscc, purpose="permit", **params):
    return client.get(f"/api/v1/credit/{uscc}", query_string={"purpose": purpose, **params}, headers=bearer(token))


def count_checks(engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(CreditCheck)).one()


def codes(answer: dict) -> set[str]:
    return {m["code"] for m in answer["measures"]}


def test_check_answers_per_contract_and_logs_it(client, engine, firms, token):
    response = check(client, token, firms["plain"], "procurement")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {
        "uscc",
        "name",
        "grade",
        "score",
        "lists",
        "measures",
        "rule_set",
        "as_of",
        "purpose",
        "check_id",
        "key_id",
        "signature",
    }
    assert body["uscc"] == firms["plain"] and body["as_of"] == TODAY.isoformat()
    assert body["check_id"].startswith("HC" + TODAY.strftime("%Y%m%d"))
    assert_matches(openapi_document(), "CreditCheck", body)
    with Session(engine) as s:
        logged = s.exec(select(CreditCheck)).one()
    assert logged.receipt == body["check_id"] and logged.answer == body
    assert (logged.channel, logged.department, logged.purpose) == ("api", "佛山市住房和城乡建设局", "procurement")
    assert logged.api_key_id is not None and logged.user_id is None


def test_every_check_is_logged_once(client, engine, firms, token):
    ids = {check(client, token, firms["plain"]).get_json()["check_id"] for _ in range(3)}
    assert len(ids) == 3 and count_checks(engine) == 3


def test_black_listed_firm_for_procurement_is_restricted(client, firms, token):
    body = check(client, token, firms["black"], "procurement").get_json()
    assert "restrict_procurement" in codes(body)
    assert [(e["list"], e["status"]) for e in body["lists"]] == [("black", "listed")]
    assert all(m["basis"] for m in body["measures"])


def test_red_listed_firm_for_permit_gets_the_green_channel(client, firms, token):
    body = check(client, token, firms["red"], "permit").get_json()
    texts = {m["code"]: m["text"] for m in body["measures"]}
    assert "green_channel" in texts and "绿色通道" in texts["green_channel"] and "容缺受理" in texts["green_channel"]


def test_negative_event_vetoes_an_award(client, firms, token):
    assert "award_veto" in codes(check(client, token, firms["negative"], "award").get_json())
    assert "award_veto" not in codes(check(client, token, firms["plain"], "award").get_json())


def test_as_of_before_the_listing_shows_no_list(client, firms, token):
    day = (TODAY - timedelta(days=60)).isoformat()
    body = check(client, token, firms["black"], "procurement", as_of=day).get_json()
    assert body["as_of"] == day and body["lists"] == [] and "restrict_procurement" not in codes(body)


def test_unknown_firm_is_404(client, engine, firms, token):
    response = check(client, token, UNKNOWN)
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert response.headers["Cache-Control"] == "no-store"
    assert count_checks(engine) == 0


@pytest.mark.parametrize(
    ("uscc", "params", "field", "fragment"),
    [
        ("91440300192203821", {}, "uscc", "length"),
        ("914403001922038217", {}, "uscc", "check_char"),
        ("914403001922038I16", {}, "uscc", "charset"),
        ("{plain}", {"purpose": ""}, "purpose", "缺少"),
        ("{plain}", {"purpose": "lottery"}, "purpose", "lottery"),
        ("{plain}", {"as_of": "2026-02-30"}, "as_of", "有效日期"),
        ("{plain}", {"as_of": "yesterday"}, "as_of", "YYYY-MM-DD"),
    ],
)
def test_bad_request_is_422_naming_the_problem(client, engine, firms, token, uscc, params, field, fragment):
    response = check(client, token, uscc.format(**firms), **{"purpose": "permit", **params})
    assert response.status_code == 422
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["error"] == "validation_failed"
    assert [d["field"] for d in body["details"]] == [field]
    assert fragment in body["message"]
    assert_matches(openapi_document(), "ValidationError", body)
    assert count_checks(engine) == 0


def test_missing_purpose_is_422(client, firms, token):
    response = client.get(f"/api/v1/credit/{firms['plain']}", headers=bearer(token))
    assert response.status_code == 422 and response.get_json()["details"][0]["field"] == "purpose"


def test_key_is_required(client, firms, tx):
    response = client.get(f"/api/v1/credit/{firms['plain']}?purpose=permit")
    assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"
    assert response.headers["Cache-Control"] == "no-store"
    assert check(client, "abc.def", firms["plain"]).status_code == 401
    record_only = issue_key(tx, department="另一部门", scopes="record")
    response = check(client, record_only, firms["plain"])
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"
    assert response.headers["Cache-Control"] == "no-store"
    response = client.post("/api/v1/credit/batch", json={"usccs": [firms["plain"]], "purpose": "permit"})
    assert response.status_code == 401


def test_rate_limit_is_per_key_with_retry_after(app, client, firms, token, tx):
    app.config.update(API_RATE_LIMIT=3, API_RATE_WINDOW=3600)
    assert [check(client, token, firms["plain"]).status_code for _ in range(3)] == [200] * 3
    response = check(client, token, firms["plain"])
    assert response.status_code == 429 and response.get_json()["error"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert response.headers["Cache-Control"] == "no-store"
    assert_matches(openapi_document(), "Error", response.get_json())
    batch = client.post(
        "/api/v1/credit/batch", json={"usccs": [firms["plain"]], "purpose": "permit"}, headers=bearer(token)
    )
    assert batch.status_code == 429
    other = issue_key(tx, department="另一部门", scopes="check")
    assert check(client, other, firms["plain"]).status_code == 200  # another key has its own window


def test_rate_counter_is_shared_through_the_database(app, firms, token):
    """Two app instances (as two gunicorn workers would be) count against one limit."""
    app.config.update(API_RATE_LIMIT=2, API_RATE_WINDOW=3600)
    from config import TestConfig
    from credit.web import create_app

    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
    config.SIGNING_KEY_DIR = app.config["SIGNING_KEY_DIR"]  # one key directory for every worker, as deployed
    other = create_app(config)
    other.config.update(API_RATE_LIMIT=2, API_RATE_WINDOW=3600)
    try:
        first, second = app.test_client(), other.test_client()
        assert check(first, token, firms["plain"]).status_code == 200
        assert check(second, token, firms["plain"]).status_code == 200
        assert check(first, token, firms["plain"]).status_code == 429
        assert check(second, token, firms["plain"]).status_code == 429
    finally:
        dispose_engines(other)


def test_rate_limit_counts_failed_requests_not_refused_ones(app, client, firms, token, engine):
    """404s and 422s use up the window too; a refused request does not, and nothing of it is logged."""
    app.config.update(API_RATE_LIMIT=3, API_RATE_WINDOW=3600)
    assert check(client, token, "914403001922038216").status_code == 404  # unknown firm
    assert client.get("/api/v1/credit/X?purpose=permit", headers=bearer(token)).status_code == 422
    assert check(client, token, firms["plain"]).status_code == 200
    assert [check(client, token, firms["plain"]).status_code for _ in range(3)] == [429] * 3
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(CreditCheck)).one() == 1
        assert s.exec(text("SELECT count FROM api_rate")).one()[0] == 3


def test_rate_limit_and_window_are_read_from_the_environment():
    import os
    import subprocess
    import sys

    env = {**os.environ, "API_RATE_LIMIT": "7", "API_RATE_WINDOW": "30"}
    code = "import config; print(config.Config.API_RATE_LIMIT, config.Config.API_RATE_WINDOW)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["7", "30"]


# --- batch -----------------------------------------------------------------------------------------


def batch(client, token, usccs, purpose="procurement", **more):
    return client.post("/api/v1/credit/batch", json={"usccs": usccs, "purpose": purpose, **more}, headers=bearer(token))


def test_batch_answers_in_input_order_with_per_item_errors(client, engine, firms, token):
    usccs = [firms["black"], "bad", UNKNOWN, firms["plain"], firms["black"]]
    response = batch(client, token, usccs)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    results = response.get_json()["results"]
    assert [r["uscc"] for r in results] == [firms["black"], "bad", UNKNOWN, firms["plain"], firms["black"]]
    assert results[1]["error"] == "invalid_uscc" and "length" in results[1]["message"]
    assert results[2]["error"] == "not_found"
    assert "restrict_procurement" in codes(results[0]) and "restrict_procurement" not in codes(results[3])
    assert results[0]["check_id"] != results[4]["check_id"]  # duplicates answered (and logged) each time
    assert_matches(openapi_document(), "CreditBatchResult", response.get_json())
    with Session(engine) as s:
        logged = {c.receipt: c.answer for c in s.exec(select(CreditCheck))}
    assert set(logged) == {results[i]["check_id"] for i in (0, 3, 4)}
    assert logged[results[3]["check_id"]] == results[3]


def test_batch_answers_equal_single_answers(session, firms):
    from credit.services.firms import get_firm

    found = [get_firm(session, code) for code in firms.values()]
    for purpose in ("permit", "procurement", "award", "financing"):
        many = check_firms(session, found, purpose=purpose)  # type: ignore[arg-type]
        for firm in found:
            assert many[firm.id].as_dict() == check_firm(session, firm, purpose=purpose).as_dict()  # type: ignore[union-attr,index,arg-type]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"usccs": ["x"] * 1001, "purpose": "permit"}, "usccs"),
        ({"usccs": [], "purpose": "permit"}, "usccs"),
        ({"usccs": "914403001922038216", "purpose": "permit"}, "usccs"),
        ({"usccs": [1, 2], "purpose": "permit"}, "usccs"),
        ({"usccs": ["914403001922038216"]}, "purpose"),
        ({"usccs": ["914403001922038216"], "purpose": "permit", "as_of": "2026-13-01"}, "as_of"),
        ({"usccs": ["914403001922038216"], "purpose": "permit", "extra": 1}, "extra"),
    ],
)
def test_batch_validation_is_422(client, engine, firms, token, body, field):
    response = client.post("/api/v1/credit/batch", json=body, headers=bearer(token))
    assert response.status_code == 422
    assert field in [d["field"] for d in response.get_json()["details"]]
    assert count_checks(engine) == 0


def test_batch_of_exactly_1000_is_answered(client, engine, firms, token):
    usccs = [firms["plain"], firms["red"]] * 500
    results = batch(client, token, usccs, "permit").get_json()["results"]
    assert len(results) == 1000 and [r["uscc"] for r in results] == usccs
    assert all("check_id" in r for r in results) and count_checks(engine) == 1000


def test_batch_body_must_be_json_object(client, token):
    response = client.post("/api/v1/credit/batch", data="[]", headers=bearer(token), content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"] == "bad_request"


def test_check_log_is_append_only(engine, firms):
    with Session(engine) as s:
        s.info["actor"] = Actor.system("test")
        firm = s.exec(select(CreditCheck)).first()
        assert firm is None
    from credit.db import session_scope

    with session_scope(engine, Actor.system("test")) as s:
        from credit.services.firms import get_firm

        logged = log_check(s, check_firm(s, get_firm(s, firms["plain"]), purpose="permit"), channel="cli")  # type: ignore[arg-type]
    for statement in ("UPDATE credit_check SET grade = 'A'", "DELETE FROM credit_check"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text(statement))
    assert count_checks(engine) == 1 and logged.receipt


def test_the_bulk_file_of_current_listings(client, firms, token, tx):
    answer = client.get("/api/v1/listings", headers=bearer(token))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["as_of"] == TODAY.isoformat()
    assert {(row["uscc"], row["list"]) for row in body["listings"]} == {
        (firms["black"], "black"),
        (firms["red"], "red"),
    }
    as_csv = client.get("/api/v1/listings?format=csv", headers=bearer(token))
    assert as_csv.mimetype == "text/csv"
    text = as_csv.data.decode("utf-8-sig")
    assert text.splitlines()[0] == "uscc,name,region,list,since,until,reason"
    assert firms["black"] in text and "测试black" in text
    assert client.get("/api/v1/listings?format=xml", headers=bearer(token)).status_code == 422
    assert client.get("/api/v1/listings").status_code == 401
    record_only = issue_key(tx, scopes="record")
    assert client.get("/api/v1/listings", headers=bearer(record_only)).status_code == 403


def test_the_first_check_makes_the_key_it_is_signed_with_and_every_check_counts(app, client, firms, token, engine):
    """No signing key yet: the first check makes one inside its own write (it must outlive the request)
    and later checks are signed by the same key; every check, the first included, counts against the
    limit on SQLite and on PostgreSQL's one-statement path alike."""
    from credit.models import ApiRate, SigningKey
    from credit.services.signing import verify

    app.config.update(API_RATE_LIMIT=4, API_RATE_WINDOW=3600)
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(SigningKey)).one() == 0
    answers = [check(client, token, firms["plain"]) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    with Session(engine) as s:
        keys = s.exec(select(SigningKey)).all()
        assert len(keys) == 1
        assert s.exec(select(func.sum(ApiRate.count))).one() == 4
    for answer in answers[:4]:
        body = answer.get_json()
        assert body["key_id"] == keys[0].key_id and verify(body, keys[0].public_key)
    assert count_checks(engine) == 4
