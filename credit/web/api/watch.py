"""API routes of issue 15 on the `/api/v1` blueprint: a department's watch list (`/watch`), its webhook
subscriptions (`/subscriptions`, the delivery log, replay, a test ping) and the changes feed (`/changes`).
All need a key with scope `watch`; a department sees only its own watch list and subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, jsonify, request, url_for

from credit.models import WebhookDelivery, WebhookSubscription
from credit.models.webhook import DeliveryStatus
from credit.services import watch as watching
from credit.services.event_input import FieldError
from credit.services.outbox import changes_since, newest_change
from credit.services.webhooks import (
    SubscriptionError,
    WebhookSettings,
    attempts_of,
    create_subscription,
    deliveries_page,
    department_subscriptions,
    end_subscription,
    get_subscription,
    queue_test,
    replay_delivery,
)
from credit.uscc import UsccError, validate_uscc
from credit.web.api.auth import api_error, current_department, key_required, key_unit_of_work
from credit.web.api.ratelimit import rate_limited
from credit.web.api.routes import MAX_ID, bp, validation_failed
from credit.web.db import get_session

CHANGES_LIMIT = 1000  # the most changes one page of the feed gives
WATCH_PAGE = 500


def settings() -> WebhookSettings:
    return WebhookSettings.from_config(current_app.config)


def _int_arg(name: str, default: int, low: int, high: int) -> tuple[int, FieldError | None]:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default, None
    if not raw.isdigit() or not (low <= int(raw) <= high):
        return default, FieldError(name, f"{name} 须为 {low} 到 {high} 之间的整数")
    return int(raw), None


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- Watch list -------------------------------------------------------------------------------------


def _code(uscc: str):
    try:
        return validate_uscc(uscc), None
    except UsccError as exc:
        return None, validation_failed([FieldError("uscc", str(exc))])


@bp.get("/watch")
@key_required("watch")
@rate_limited
def watch_list():
    """The department's watch list, one page at a time (USCC order)."""
    page, e1 = _int_arg("page", 1, 1, 1_000_000)
    per_page, e2 = _int_arg("per_page", 100, 1, WATCH_PAGE)
    if e1 or e2:
        return validation_failed([e for e in (e1, e2) if e])
    found = watching.watch_page(get_session(), current_department().id, page=page, per_page=per_page)  # type: ignore[arg-type]
    return jsonify(
        watch=[{"uscc": e.uscc, "name": name, "since": _instant(e.created_at)} for e, name in found.entries],
        page=found.page,
        per_page=found.per_page,
        total=found.total,
    )


@bp.get("/watch/<uscc>")
@key_required("watch")
@rate_limited
def watch_get(uscc: str):
    code, refused = _code(uscc)
    if refused:
        return refused
    entry = watching.get_watch(get_session(), current_department().id, code)  # type: ignore[arg-type]
    if entry is None:
        return api_error(404, "not_found", f"本部门未关注 {code}")
    return jsonify(uscc=entry.uscc, since=_instant(entry.created_at))


@bp.put("/watch/<uscc>")
@key_required("watch")
@rate_limited
def watch_put(uscc: str):
    """Watch a firm on file (idempotent: 201 when new, 200 when already watched)."""
    code, refused = _code(uscc)
    if refused:
        return refused
    try:
        with key_unit_of_work() as session:
            entry, created = watching.add_watch(session, department_id=current_department().id, uscc=code)  # type: ignore[arg-type]
    except LookupError:
        return api_error(404, "not_found", f"没有统一社会信用代码为 {code} 的企业")
    response = jsonify(uscc=entry.uscc, since=_instant(entry.created_at))
    response.status_code = 201 if created else 200
    return response


@bp.delete("/watch/<uscc>")
@key_required("watch")
@rate_limited
def watch_delete(uscc: str):
    code, refused = _code(uscc)
    if refused:
        return refused
    with key_unit_of_work() as session:
        removed = watching.remove_watch(session, department_id=current_department().id, uscc=code)  # type: ignore[arg-type]
    if not removed:
        return api_error(404, "not_found", f"本部门未关注 {code}")
    return "", 204


# --- Subscriptions ------------------------------------------------------------------------------------


def subscription_json(sub: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "url": sub.url,
        "scope": sub.scope,
        "active": sub.active,
        "created_at": _instant(sub.created_at),
        "ended_at": _instant(sub.ended_at),
    }


def delivery_json(delivery: WebhookDelivery, attempts: list) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "change_id": delivery.outbox_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "created_at": _instant(delivery.created_at),
        "next_attempt_at": _instant(delivery.next_attempt_at) if delivery.status == DeliveryStatus.pending else None,
        "delivered_at": _instant(delivery.delivered_at),
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "log": [
            {"at": _instant(a.at), "status_code": a.status_code, "error": a.error, "duration_ms": a.duration_ms}
            for a in attempts
        ],
    }


def _own(subscription_id: int) -> WebhookSubscription | None:
    if subscription_id > MAX_ID:
        return None
    return get_subscription(get_session(), current_department().id, subscription_id)  # type: ignore[arg-type]


@bp.get("/subscriptions")
@key_required("watch")
@rate_limited
def subscription_list():
    subs = department_subscriptions(get_session(), current_department().id)  # type: ignore[arg-type]
    return jsonify(subscriptions=[subscription_json(s) for s in subs])


@bp.post("/subscriptions")
@key_required("watch")
@rate_limited
def subscription_create():
    """A new webhook: `{"url", "scope": "watched" | "all"}`. The answer holds the secret, once."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return api_error(400, "bad_request", "请求体须为 JSON 对象,并带 Content-Type: application/json")
    url, scope = body.get("url"), body.get("scope", "watched")
    errors = []
    if not isinstance(url, str) or not url.strip():
        errors.append(FieldError("url", "缺少 url"))
    if not isinstance(scope, str):
        errors.append(FieldError("scope", "scope 须为 watched 或 all"))
    unknown = sorted(set(body) - {"url", "scope"})
    if unknown:
        errors.append(FieldError("", f"未知字段:{', '.join(unknown)}"))
    if errors:
        return validation_failed(errors)
    try:
        with key_unit_of_work() as session:
            sub, secret = create_subscription(
                session,
                department_id=current_department().id,
                url=url,
                scope=scope,
                settings=settings(),  # type: ignore[arg-type]
            )
    except SubscriptionError as exc:
        return validation_failed([FieldError("url" if "scope" not in str(exc) else "scope", str(exc))])
    response = jsonify({**subscription_json(sub), "secret": secret})
    response.status_code = 201
    response.headers["Location"] = url_for("api.subscription_get", subscription_id=sub.id)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/subscriptions/<int:subscription_id>")
@key_required("watch")
@rate_limited
def subscription_get(subscription_id: int):
    sub = _own(subscription_id)
    if sub is None:
        return api_error(404, "not_found", f"本部门没有编号为 {subscription_id} 的订阅")
    return jsonify(subscription_json(sub))


@bp.delete("/subscriptions/<int:subscription_id>")
@key_required("watch")
@rate_limited
def subscription_delete(subscription_id: int):
    """End a subscription: no more deliveries; it and its log are kept."""
    sub = _own(subscription_id)
    if sub is None:
        return api_error(404, "not_found", f"本部门没有编号为 {subscription_id} 的订阅")
    with key_unit_of_work() as session:
        end_subscription(session, session.merge(sub))
    return "", 204


@bp.get("/subscriptions/<int:subscription_id>/deliveries")
@key_required("watch")
@rate_limited
def subscription_deliveries(subscription_id: int):
    """The delivery log, newest first, with every attempt."""
    sub = _own(subscription_id)
    if sub is None:
        return api_error(404, "not_found", f"本部门没有编号为 {subscription_id} 的订阅")
    page, e1 = _int_arg("page", 1, 1, 1_000_000)
    per_page, e2 = _int_arg("per_page", 50, 1, 200)
    status = request.args.get("status") or None
    errors = [e for e in (e1, e2) if e]
    if status not in (None, DeliveryStatus.pending, DeliveryStatus.delivered, DeliveryStatus.parked):
        errors.append(FieldError("status", "status 须为 pending、delivered 或 parked"))
    if errors:
        return validation_failed(errors)
    session = get_session()
    rows, total = deliveries_page(session, sub.id, page=page, per_page=per_page, status=status)  # type: ignore[arg-type]
    logs = attempts_of(session, [d.id for d in rows])  # type: ignore[misc]
    return jsonify(
        deliveries=[delivery_json(d, logs[d.id]) for d in rows],
        page=page,
        per_page=per_page,
        total=total,  # type: ignore[index]
    )


@bp.post("/subscriptions/<int:subscription_id>/deliveries/<int:delivery_id>/replay")
@key_required("watch")
@rate_limited
def delivery_replay(subscription_id: int, delivery_id: int):
    """Send a delivery again (also one already delivered or parked)."""
    sub = _own(subscription_id)
    delivery = get_session().get(WebhookDelivery, delivery_id) if sub and delivery_id <= MAX_ID else None
    if sub is None or delivery is None or delivery.subscription_id != sub.id:
        return api_error(404, "not_found", "没有这次投递")
    with key_unit_of_work() as session:
        replay_delivery(session, delivery)
    return jsonify(id=delivery.id, status=DeliveryStatus.pending), 202


@bp.post("/subscriptions/<int:subscription_id>/test")
@key_required("watch")
@rate_limited
def subscription_test(subscription_id: int):
    """Queue a test ping (kind `webhook.test`), sent by the delivery worker like any change."""
    sub = _own(subscription_id)
    if sub is None or not sub.active:
        return api_error(404, "not_found", f"本部门没有编号为 {subscription_id} 的有效订阅")
    with key_unit_of_work() as session:
        delivery_id = queue_test(session, sub)
    return jsonify(id=delivery_id, status=DeliveryStatus.pending), 202


# --- The changes feed ---------------------------------------------------------------------------------


@bp.get("/changes")
@key_required("watch")
@rate_limited
def changes():
    """Every change after the cursor `since`, in commit order; `next` is the cursor for the next page."""
    since, e1 = _int_arg("since", 0, 0, MAX_ID)  # ids are INTEGER
    limit, e2 = _int_arg("limit", 100, 1, CHANGES_LIMIT)
    if e1 or e2:
        return validation_failed([e for e in (e1, e2) if e])
    session = get_session()
    page = changes_since(session, since, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    cursor = page[-1]["id"] if page else max(since, 0)
    response = jsonify(changes=page, next=cursor, has_more=more, newest=newest_change(session))
    response.headers["Cache-Control"] = "no-store"
    return response
