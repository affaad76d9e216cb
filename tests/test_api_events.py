"""`POST /api/v1/events` and `GET /api/v1/events/<id>`: a department reports credit events with its key
and polls the review outcome. The same validation as the form, JSON errors only, every write audited in
the department's name; and the OpenAPI document describes exactly the routes the app has."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate as validate_spec
from sqlmodel import Session, func, select

from credit.clock import today
from credit.models import Actor, ApiKey, AuditEntry, CreditEvent
from credit.services.apikeys import create_api_key
from credit.services.events import approve_event, record_event, reject_event
from credit.web.api.openapi import openapi_document
from tests.factories import firm_row, make_firm, make_user

DEPARTMENT = "佛山市住房和城乡建设局"
PAST = (today() - timedelta(days=30)).isoformat()


def issue_key(tx, *, department: str = DEPARTMENT, scopes: str = "record") -> str:
    with tx(Actor.system("test")) as s:
        return create_api_key(s, department=department, scopes=scopes).token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def event_body(uscc: str, /, **overrides) -> dict:
    body = {
        "uscc": uscc,
        "event_type": "spot_check_fail",
        "occurred_on": PAST,
        "document_no": "佛禅市监抽〔2026〕17号",
        "authority": "佛山市禅城区市场监督管理局",
        "severity": "serious",
        "product": "电热水壶",
        "amount": None,
    }
    return {k: v for k, v in {**body, **overrides}.items() if v is not ...}


def count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def assert_matches(document: dict, schema_name: str, instance) -> None:
    """`instance` is valid against a schema of the OpenAPI document (formats checked)."""
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    OAS30Validator(root, format_checker=oas30_format_checker).validate(instance)


@pytest.fixture
def firm(tx):
    with tx() as s:
        return make_firm(s)


@pytest.fixture
def token(tx) -> str:
    return issue_key(tx)


# --- POST /api/v1/events -------------------------------------------------------------------------


def test_record_event(client, engine, firm, token):
    response = client.post(
        "/api/v1/events", json=event_body(firm.uscc, description="  抽检不合格 ", amount=50000), headers=bearer(token)
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/events/{body['id']}"
    assert body["uscc"] == firm.uscc and body["event_type"] == "spot_check_fail"
    assert (body["status"], body["source"], body["severity"], body["amount"]) == (
        "pending",
        "api",
        "serious",
        "50000.00",
    )
    assert (body["occurred_on"], body["valid_until"], body["description"]) == (PAST, None, "抽检不合格")
    assert body["reviewed_at"] is None and body["review_note"] == ""
    assert_matches(client.get("/api/v1/openapi.json").get_json(), "Event", body)

    with Session(engine) as s:
        event = s.get(CreditEvent, body["id"])
        key = s.exec(select(ApiKey).where(ApiKey.prefix == token.split(".")[0])).one()
        audit = s.exec(
            select(AuditEntry).where(AuditEntry.entity == "credit_event", AuditEntry.entity_id == str(event.id))
        ).one()
    assert (event.status, event.source, event.api_key_id, event.recorded_by_id) == ("pending", "api", key.id, None)
    assert (audit.actor, audit.source, audit.action, audit.actor_user_id) == (
        f"api:{DEPARTMENT}",
        "api",
        "create",
        None,
    )


def test_csrf_does_not_apply_to_the_api(client, firm, token):
    assert client.post("/logout").status_code == 400  # the rest of the app still demands its CSRF token
    assert client.post("/api/v1/events", json=event_body(firm.uscc), headers=bearer(token)).status_code == 201


@pytest.mark.parametrize(("amount", "shown"), [(12.5, "12.50"), ("1,200.5", "1200.50"), ("0", "0.00"), ("", None)])
def test_amount_may_be_a_number_or_text(client, firm, token, amount, shown):
    response = client.post("/api/v1/events", json=event_body(firm.uscc, amount=amount), headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["amount"] == shown


def test_optional_fields_may_be_left_out(client, firm, token):
    body = {
        "uscc": firm.uscc,
        "event_type": "certification",
        "occurred_on": PAST,
        "document_no": "CQC-2026-0001",
        "authority": "中国质量认证中心",
        "valid_until": "2029-01-31",
    }
    response = client.post("/api/v1/events", json=body, headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["valid_until"] == "2029-01-31"


def test_rectified_names_the_failure_it_closes(client, firm, token):
    client.post("/api/v1/events", json=event_body(firm.uscc, document_no="抽-1"), headers=bearer(token))
    response = client.post(
        "/api/v1/events",
        json={
            "uscc": firm.uscc,
            "event_type": "rectified",
            "occurred_on": PAST,
            "document_no": "复-1",
            "authority": "区局",
        },
        headers=bearer(token),
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["rectifies_document_no"] == "抽-1"


def _bad_check_char(uscc: str) -> str:
    return uscc[:17] + ("0" if uscc[17] != "0" else "1")


TOMORROW = (today() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"uscc": _bad_check_char}, "uscc", "第18位"),
        ({"uscc": "91440605"}, "uscc", "应为18位"),
        ({"uscc": lambda _: firm_row()["uscc"]}, "uscc", "未登记"),
        ({"event_type": "bogus"}, "event_type", "未知事件类型"),
        ({"occurred_on": TOMORROW}, "occurred_on", "晚于今天"),
        ({"occurred_on": "2026/03/02"}, "occurred_on", "YYYY-MM-DD"),
        ({"occurred_on": ...}, "occurred_on", "缺少发生日期"),
        ({"document_no": ...}, "document_no", "不能为空"),
        ({"severity": ...}, "severity", "须注明严重程度"),
        ({"severity": "heavy"}, "severity", "只能是"),
        ({"event_type": "certification", "severity": None}, "valid_until", "须填写有效期至"),
        ({"event_type": "cqo_appointed", "severity": None}, "person_name", "首席质量官姓名"),
        ({"amount": "-5"}, "amount", "负数"),
        ({"amount": True}, "amount", "须为字符串或数字"),
        ({"document_no": 17}, "document_no", "须为字符串"),
        ({"occured_on": PAST}, "occured_on", "未知字段"),
        ({"event_type": "rectified", "severity": None}, "rectifies_document_no", "不合格记录"),
    ],
    ids=[
        "uscc-check-char",
        "uscc-length",
        "unknown-firm",
        "unknown-type",
        "future-date",
        "date-format",
        "no-date",
        "no-document",
        "no-severity",
        "wrong-severity",
        "no-valid-until",
        "cqo-without-person",
        "negative-amount",
        "bool-amount",
        "number-as-text",
        "unknown-field",
        "nothing-to-rectify",
    ],
)
def test_invalid_event_is_422(client, engine, firm, token, overrides, field, fragment):
    values = {k: (v(firm.uscc) if callable(v) else v) for k, v in overrides.items()}
    response = client.post("/api/v1/events", json=event_body(firm.uscc, **values), headers=bearer(token))
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["error"] == "validation_failed"
    messages = {d["field"]: d["message"] for d in body["details"]}
    assert field in messages, body
    assert fragment in messages[field] and fragment in body["message"]
    assert_matches(openapi_document(), "ValidationError", body)
    assert count(engine, CreditEvent) == 0


def test_every_problem_is_reported_at_once(client, firm, token):
    body = {"uscc": "123", "event_type": "penalty", "occurred_on": TOMORROW}
    response = client.post("/api/v1/events", json=body, headers=bearer(token))
    fields = {d["field"] for d in response.get_json()["details"]}
    assert {"uscc", "occurred_on", "document_no", "authority", "severity"} <= fields


def test_duplicate_is_409(client, engine, firm, token, tx):
    body = event_body(firm.uscc)
    assert client.post("/api/v1/events", json=body, headers=bearer(token)).status_code == 201
    other_department = issue_key(tx, department="佛山市财政局")
    for key in (token, other_department):
        response = client.post("/api/v1/events", json={**body, "description": "再报一次"}, headers=bearer(key))
        assert response.status_code == 409
        assert response.get_json()["error"] == "conflict"
        assert "文书号" in response.get_json()["message"]
    assert count(engine, CreditEvent) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": "uscc=1", "content_type": "application/x-www-form-urlencoded"},
        {"data": "{not json", "content_type": "application/json"},
        {"data": "", "content_type": "application/json"},
        {"json": ["uscc"]},
        {"json": "uscc"},
        {"json": None},
        {"data": '{"uscc": "x"}', "content_type": "text/plain"},
    ],
    ids=["form", "broken-json", "empty", "array", "string", "null", "text-plain"],
)
def test_body_that_is_not_a_json_object_is_400(client, engine, token, kwargs):
    response = client.post("/api/v1/events", headers=bearer(token), **kwargs)
    assert response.status_code == 400
    assert response.is_json and response.get_json()["error"] == "bad_request"
    assert count(engine, CreditEvent) == 0


def test_oversized_body_is_413_json(app, client, token, engine):
    app.config["MAX_CONTENT_LENGTH"] = 100
    response = client.post("/api/v1/events", json={"description": "长" * 200}, headers=bearer(token))
    assert response.status_code == 413
    assert response.is_json and response.get_json()["error"] == "request_entity_too_large"
    assert count(engine, CreditEvent) == 0


# --- GET /api/v1/events/<id> ---------------------------------------------------------------------


def test_department_polls_the_review_outcome(client, tx, firm, token):
    first = client.post("/api/v1/events", json=event_body(firm.uscc, document_no="抽-1"), headers=bearer(token))
    second = client.post("/api/v1/events", json=event_body(firm.uscc, document_no="抽-2"), headers=bearer(token))
    first_id, second_id = first.get_json()["id"], second.get_json()["id"]

    pending = client.get(first.headers["Location"], headers=bearer(token))
    assert pending.status_code == 200
    assert pending.get_json() == first.get_json()

    with tx() as s:
        reviewer = make_user(s, role="reviewer")
        approve_event(s, s.get(CreditEvent, first_id), reviewer, note="材料齐全")
        reject_event(s, s.get(CreditEvent, second_id), reviewer, "文书号与原件不符")

    approved = client.get(f"/api/v1/events/{first_id}", headers=bearer(token)).get_json()
    rejected = client.get(f"/api/v1/events/{second_id}", headers=bearer(token)).get_json()
    assert (approved["status"], approved["review_note"]) == ("effective", "材料齐全")
    assert (rejected["status"], rejected["review_note"]) == ("rejected", "文书号与原件不符")
    assert approved["reviewed_at"] and rejected["reviewed_at"]
    document = openapi_document()
    for body in (approved, rejected):
        assert_matches(document, "Event", body)


def test_any_key_of_the_department_sees_its_events(client, tx, firm, token):
    created = client.post("/api/v1/events", json=event_body(firm.uscc), headers=bearer(token)).get_json()
    sibling = issue_key(tx, scopes="check,record")
    assert client.get(f"/api/v1/events/{created['id']}", headers=bearer(sibling)).status_code == 200


def test_other_events_do_not_exist_for_a_department(client, tx, firm, token):
    created = client.post("/api/v1/events", json=event_body(firm.uscc), headers=bearer(token)).get_json()
    with tx() as s:
        recorder = make_user(s, role="recorder")
        by_form = record_event(s, event_body(firm.uscc, document_no="表-1"), recorder=recorder)
    stranger = issue_key(tx, department="佛山市自然资源局")

    for key, event_id in ((stranger, created["id"]), (token, by_form.id), (token, 999_999)):
        response = client.get(f"/api/v1/events/{event_id}", headers=bearer(key))
        assert response.status_code == 404
        assert response.get_json()["error"] == "not_found"


# --- errors are JSON -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/events", 405),
        ("put", "/api/v1/events/1", 405),
        ("post", "/api/v1/openapi.json", 405),
        ("get", "/api/v1/events/abc", 404),
        ("get", "/api/v1/events/-1", 404),
        ("get", "/api/v1/nothing", 404),
    ],
)
def test_errors_are_json_not_html(client, token, method, path, status):
    response = getattr(client, method)(path, headers=bearer(token))
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "message"} and body["message"]
    assert "<html" not in response.get_data(as_text=True).lower()
    if status == 405:
        assert response.headers["Allow"]


def test_unexpected_error_is_json_without_a_trace(app, client):
    """A crash under /api/ answers the documented 500 as JSON: no HTML page, no stack trace."""
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    response = client.get("/api/v1/boom", headers={"Accept": "text/html"})
    assert response.status_code == 500 and response.mimetype == "application/json"
    assert response.get_json()["error"] == "internal_error"
    body = response.get_data(as_text=True)
    assert "secret internal detail" not in body and "Traceback" not in body


# --- the OpenAPI document ------------------------------------------------------------------------


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.removeprefix("/api/v1"))


def test_openapi_document_is_valid_and_public(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    document = response.get_json()
    validate_spec(document)
    assert document["openapi"] == "3.0.3"
    assert document["servers"] == [{"url": "/api/v1"}]


def test_openapi_document_lists_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    routes = {
        (_openapi_path(rule.rule), method.lower()): rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert set(routes) == documented

    for (path, method), endpoint in routes.items():
        operation = document["paths"][path][method]
        scope = getattr(app.view_functions[endpoint], "required_scope", None)
        assert operation.get("x-scopes", [None])[0] == scope, endpoint
        if scope is None:
            assert operation["security"] == []
        else:
            assert operation["security"] == [{"bearerKey": []}]
            assert {"401", "403"} <= set(operation["responses"])
        for status, answer in operation["responses"].items():
            if int(status) >= 400:
                schema = answer["content"]["application/json"]["schema"]["$ref"]
                assert schema in ("#/components/schemas/Error", "#/components/schemas/ValidationError")


def test_openapi_documents_the_statuses_the_tests_observe(client):
    operations = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(operations["/events"]["post"]["responses"]) >= {"201", "400", "401", "403", "409", "413", "422", "500"}
    assert set(operations["/events/{event_id}"]["get"]["responses"]) >= {"200", "401", "403", "404", "500"}


def test_openapi_input_schema_names_every_event_field():
    from credit.services.event_input import EVENT_FIELDS

    schema = openapi_document()["components"]["schemas"]["EventInput"]
    assert tuple(schema["properties"]) == EVENT_FIELDS
    assert_matches(openapi_document(), "EventInput", schema["example"])
