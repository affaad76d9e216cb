"""Webhook subscriptions and their deliveries, run by `flask credit deliver` (a process of its own, never a
web worker).

A pass of the worker (`deliver_pass`):
1. fan-out: for each active subscription, one delivery row per outbox change above its `fanout_upto`
   that it matches (its department's watched firms and every publication, or everything), with one
   INSERT … SELECT per subscription and chunk; the unique (subscription, change) pair makes a repeat
   harmless;
2. claim: due pending deliveries get a lease (`lease_until`, a fresh `lease_token`) in one UPDATE —
   `FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's write lock otherwise — so two workers never hold one;
3. send: POST outside any transaction to the address checked at send time (credit.services.webhook_urls),
   signed with the subscription's HMAC secret and the bureau's Ed25519 key, no redirects followed;
4. settle: after a 2xx the delivery is acknowledged, if the lease is still ours; otherwise it is retried
   with exponential backoff and jitter until the retry window (24 h) has passed, then parked.

Invariants: nothing is lost (a worker killed mid-way leaves leased rows that another claims once the lease
ends); an acknowledged delivery is never sent again (only a replay, asked for and audited, sends it anew);
a delivery whose POST succeeded but was not acknowledged before a crash may arrive twice: receivers
de-duplicate on the change id (`X-Credit-Event-Id`)."""

from __future__ import annotations

import http.client
import json
import random
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, exists, func, insert, literal, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from credit.db import session_scope
from credit.models import (
    Actor,
    ChangeOutbox,
    WatchEntry,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
    utcnow,
)
from credit.models.webhook import SCOPE_ALL, SUBSCRIPTION_SCOPES, DeliveryStatus
from credit.services.audit import record_action
from credit.services.outbox import change_json, newest_change
from credit.services.signing import Signer, signer_for
from credit.services.webhook_crypto import decrypt_secret, encrypt_secret, hmac_signature, new_secret
from credit.services.webhook_urls import (
    Resolver,
    Target,
    UrlPolicy,
    UrlRefused,
    check_url,
    resolve_target,
    system_resolver,
)

_D = WebhookDelivery.__table__  # type: ignore[attr-defined]
_S = WebhookSubscription.__table__  # type: ignore[attr-defined]
_O = ChangeOutbox.__table__  # type: ignore[attr-defined]
_W = WatchEntry.__table__  # type: ignore[attr-defined]
_A = WebhookAttempt.__table__  # type: ignore[attr-defined]
USER_AGENT = "credit-webhooks/1"
TEST_KIND = "webhook.test"


@dataclass(frozen=True)
class WebhookSettings:
    """What the worker and the API need from the configuration (config.Config, WEBHOOK_*)."""

    secret_key: str
    policy: UrlPolicy
    key_dir: Path
    timeout: float = 10.0
    lease_seconds: float = 60.0
    retry_base_seconds: float = 10.0
    retry_max_seconds: float = 3600.0
    retry_window_hours: float = 24.0
    batch: int = 50
    fanout_chunk: int = 5000
    max_response_bytes: int = 65536

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WebhookSettings:
        return cls(
            secret_key=config["SECRET_KEY"],
            policy=UrlPolicy.from_config(
                config.get("WEBHOOK_ALLOWED_HOSTS", ""), config.get("WEBHOOK_ALLOWED_NETWORKS", "")
            ),
            key_dir=Path(config["SIGNING_KEY_DIR"]),
            timeout=float(config.get("WEBHOOK_TIMEOUT_SECONDS", 10)),
            lease_seconds=float(config.get("WEBHOOK_LEASE_SECONDS", 60)),
            retry_base_seconds=float(config.get("WEBHOOK_RETRY_BASE_SECONDS", 10)),
            retry_max_seconds=float(config.get("WEBHOOK_RETRY_MAX_SECONDS", 3600)),
            retry_window_hours=float(config.get("WEBHOOK_RETRY_WINDOW_HOURS", 24)),
            batch=int(config.get("WEBHOOK_BATCH", 50)),
        )


class SubscriptionError(ValueError):
    """A subscription that cannot be made as asked (the message says why)."""


# --- Subscriptions -----------------------------------------------------------------------------------


def create_subscription(
    session: Session, *, department_id: int, url: str, scope: str, settings: WebhookSettings
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its secret (returned once, stored encrypted). It receives the changes made
    from now on (its fan-out starts at the newest change)."""
    if scope not in SUBSCRIPTION_SCOPES:
        raise SubscriptionError(f"scope 须为 {'、'.join(SUBSCRIPTION_SCOPES)} 之一")
    try:
        checked = check_url(url, settings.policy)
    except UrlRefused as exc:
        raise SubscriptionError(str(exc)) from exc
    secret = new_secret()
    subscription = WebhookSubscription(
        department_id=department_id,
        url=checked,
        scope=scope,
        secret_encrypted=encrypt_secret(secret, settings.secret_key),
        fanout_upto=newest_change(session),
    )
    session.add(subscription)
    session.flush()
    return subscription, secret


def department_subscriptions(session: Session, department_id: int) -> list[WebhookSubscription]:
    return list(
        session.exec(
            orm_select(WebhookSubscription)
            .where(WebhookSubscription.department_id == department_id)
            .order_by(col(WebhookSubscription.id))
        )
    )


def get_subscription(session: Session, department_id: int | None, subscription_id: int) -> WebhookSubscription | None:
    """The subscription, if it belongs to the department (None: any department — for admins)."""
    found = session.get(WebhookSubscription, subscription_id)
    if found is None or (department_id is not None and found.department_id != department_id):
        return None
    return found


def end_subscription(session: Session, subscription: WebhookSubscription) -> None:
    """Stop deliveries to it (kept, with its log)."""
    subscription.active = False
    subscription.ended_at = utcnow()
    session.add(subscription)
    session.flush()


def deliveries_page(
    session: Session, subscription_id: int, *, page: int = 1, per_page: int = 50, status: str | None = None
) -> tuple[list[WebhookDelivery], int]:
    """The delivery log of a subscription, newest first, and the total."""
    where = [WebhookDelivery.subscription_id == subscription_id]
    if status:
        where.append(WebhookDelivery.status == status)
    total = session.exec(orm_select(func.count()).select_from(WebhookDelivery).where(*where)).one()
    rows = session.exec(
        orm_select(WebhookDelivery)
        .where(*where)
        .order_by(col(WebhookDelivery.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return list(rows), int(total)


@dataclass(frozen=True)
class SubscriptionRow:
    subscription: WebhookSubscription
    department: str
    watched: int
    by_status: dict[str, int]


def subscription_overview(session: Session, *, page: int = 1, per_page: int = 50) -> tuple[list[SubscriptionRow], int]:
    """One page of every subscription (newest first) with its department, the size of the department's
    watch list and its deliveries counted by status (one grouped query for the page)."""
    from credit.models import Department

    total = session.exec(orm_select(func.count()).select_from(WebhookSubscription)).one()
    subs = session.exec(
        orm_select(WebhookSubscription, Department.name)
        .join(Department, col(Department.id) == col(WebhookSubscription.department_id))
        .order_by(col(WebhookSubscription.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    ids = [s.id for s, _ in subs]
    departments = sorted({s.department_id for s, _ in subs})
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}  # type: ignore[misc]
    watched: dict[int, int] = {}
    if ids:
        for sid, status, n in session.execute(
            select(_D.c.subscription_id, _D.c.status, func.count())
            .where(_D.c.subscription_id.in_(ids))
            .group_by(_D.c.subscription_id, _D.c.status)
        ):
            counts[sid][status] = n
        for dep, n in session.execute(
            select(_W.c.department_id, func.count())
            .where(_W.c.department_id.in_(departments))
            .group_by(_W.c.department_id)
        ):
            watched[dep] = n
    rows = [SubscriptionRow(s, name, watched.get(s.department_id, 0), counts[s.id]) for s, name in subs]  # type: ignore[index]
    return rows, int(total)


def attempts_of(session: Session, delivery_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    """The attempts of these deliveries (a page's worth), oldest first."""
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    if delivery_ids:
        for attempt in session.exec(
            orm_select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id).in_(delivery_ids))
            .order_by(col(WebhookAttempt.id))
        ):
            found[attempt.delivery_id].append(attempt)
    return found


def replay_delivery(session: Session, delivery: WebhookDelivery, *, now: datetime | None = None) -> None:
    """Send a delivery again (delivered or parked ones too): pending from now, with a fresh retry window.
    Audited: a replay is the one way an acknowledged change is sent twice, and then on purpose."""
    now = now or utcnow()
    session.execute(
        update(_D)
        .where(_D.c.id == delivery.id)
        .values(
            status=DeliveryStatus.pending,
            created_at=now,
            next_attempt_at=now,
            lease_until=None,
            lease_token=None,
            delivered_at=None,
        )
    )
    record_action(session, action="replay", entity="webhook_delivery", entity_id=str(delivery.id))


def queue_test(session: Session, subscription: WebhookSubscription, *, now: datetime | None = None) -> int:
    """A test ping for the subscription (a delivery without a change); its id."""
    now = now or utcnow()
    result = session.execute(
        insert(_D)
        .values(
            subscription_id=subscription.id,
            outbox_id=None,
            status=DeliveryStatus.pending,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
            last_error="",
        )
        .returning(_D.c.id)
    )
    delivery_id = int(result.scalar_one())
    record_action(session, action="test", entity="webhook_subscription", entity_id=str(subscription.id))
    return delivery_id


# --- The worker: fan-out, claim, send, settle --------------------------------------------------------


def fan_out(session: Session, *, now: datetime, chunk: int = 5000) -> int:
    """Make the deliveries of the changes each active subscription has not had yet; how many were made.
    Each subscription's row is locked while its cursor moves (PostgreSQL; SQLite's one writer)."""
    newest = newest_change(session)
    made = 0
    query = select(_S.c.id, _S.c.department_id, _S.c.scope, _S.c.fanout_upto).where(
        _S.c.active.is_(True), _S.c.fanout_upto < newest
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    for sub in session.execute(query.order_by(_S.c.id)).all():
        upto = min(newest, sub.fanout_upto + chunk)
        matches = [_O.c.id > sub.fanout_upto, _O.c.id <= upto]
        if sub.scope != SCOPE_ALL:
            watched = exists().where(_W.c.department_id == sub.department_id, _W.c.uscc == _O.c.uscc)
            matches.append(or_(_O.c.uscc.is_(None), watched))
        already = exists().where(_D.c.subscription_id == sub.id, _D.c.outbox_id == _O.c.id)
        rows = (
            select(
                literal(sub.id),
                _O.c.id,
                literal(DeliveryStatus.pending),
                literal(0),
                literal(now, _D.c.created_at.type),
                literal(now, _D.c.next_attempt_at.type),
                literal(""),
            )
            .where(*matches, ~already)
            .order_by(_O.c.id)
        )
        result = session.execute(
            insert(_D).from_select(
                ["subscription_id", "outbox_id", "status", "attempts", "created_at", "next_attempt_at", "last_error"],
                rows,
            )
        )
        made += max(result.rowcount or 0, 0)
        session.execute(update(_S).where(_S.c.id == sub.id).values(fanout_upto=upto))
    return made


@dataclass(frozen=True)
class Claimed:
    """A delivery leased to this worker, with what it takes to send it."""

    delivery_id: int
    token: str
    attempts: int
    created_at: datetime
    subscription_id: int
    url: str
    secret_encrypted: str
    change: dict[str, Any] | None  # None: a test ping


def claim(session: Session, *, now: datetime, lease_seconds: float, limit: int) -> list[Claimed]:
    """Lease up to `limit` due deliveries of active subscriptions, oldest first."""
    token = secrets.token_hex(16)
    due = (
        select(_D.c.id)
        .where(
            _D.c.status == DeliveryStatus.pending,
            _D.c.next_attempt_at <= now,
            or_(_D.c.lease_until.is_(None), _D.c.lease_until <= now),
            _D.c.subscription_id.in_(select(_S.c.id).where(_S.c.active.is_(True))),
        )
        .order_by(_D.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    leased = session.execute(
        update(_D)
        .where(_D.c.id.in_(due))
        .values(lease_until=now + timedelta(seconds=lease_seconds), lease_token=token, attempts=_D.c.attempts + 1)
        .returning(_D.c.id)
    ).scalars()
    ids = sorted(leased)
    if not ids:
        return []
    rows = session.execute(
        select(_D, _S.c.url, _S.c.secret_encrypted, _O)
        .select_from(_D.join(_S, _S.c.id == _D.c.subscription_id).outerjoin(_O, _O.c.id == _D.c.outbox_id))
        .where(_D.c.id.in_(ids), _D.c.lease_token == token)
        .order_by(_D.c.id)
    ).all()
    claimed = []
    for row in rows:
        m = row._mapping
        change = None
        if m[_D.c.outbox_id] is not None:
            change = change_json(_Change(m[_O.c.id], m[_O.c.kind], m[_O.c.uscc], m[_O.c.recorded_at], m[_O.c.data]))
        claimed.append(
            Claimed(
                delivery_id=m[_D.c.id],
                token=token,
                attempts=m[_D.c.attempts],
                created_at=m[_D.c.created_at],
                subscription_id=m[_D.c.subscription_id],
                url=m[_S.c.url],
                secret_encrypted=m[_S.c.secret_encrypted],
                change=change,
            )
        )
    return claimed


@dataclass(frozen=True)
class _Change:
    id: int
    kind: str
    uscc: str | None
    recorded_at: Any
    data: Any


def delivery_document(item: Claimed, *, now: datetime) -> dict[str, Any]:
    """What is POSTed (before signing): the change as the feed gives it, or a test ping."""
    if item.change is None:
        return {
            "id": None,
            "kind": TEST_KIND,
            "uscc": None,
            "recorded_at": now.isoformat(),
            "data": {},
            "delivery_id": item.delivery_id,
        }
    return {**item.change, "delivery_id": item.delivery_id}


@dataclass
class SendResult:
    status: int | None
    error: str = ""
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the name resolves to now (no DNS rebinding)."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(
    url: str, body: bytes, headers: dict[str, str], *, settings: WebhookSettings, resolver: Resolver = system_resolver
) -> SendResult:
    """POST `body` to `url` once: the host resolved and checked now, no redirect followed, the answer read
    up to a bound. Never raises for a network fault: the result says what happened."""
    started = time.monotonic()
    try:
        target = resolve_target(url, settings.policy, resolver)
    except UrlRefused as exc:
        return SendResult(None, f"refused: {exc}")
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, settings.timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(settings.max_response_bytes)
        status = response.status
        error = (
            ""
            if 200 <= status < 300
            else f"HTTP {status}" + (" (redirect not followed)" if 300 <= status < 400 else "")
        )
        return SendResult(status, error, int((time.monotonic() - started) * 1000))
    except (OSError, http.client.HTTPException) as exc:
        return SendResult(None, f"{type(exc).__name__}: {exc}"[:500], int((time.monotonic() - started) * 1000))
    finally:
        connection.close()


def signed_request(item: Claimed, signer: Signer, secret: str, *, now: datetime) -> tuple[bytes, dict[str, str]]:
    """The body (the document signed with the bureau's Ed25519 key, `key_id` and `signature` inside, as
    every signed answer) and the headers: timestamp, HMAC over timestamp + "." + body, ids."""
    document = signer.sign(delivery_document(item, now=now))
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Credit-Timestamp": timestamp,
        "X-Credit-Signature": hmac_signature(secret, timestamp, body),
        "X-Credit-Key-Id": signer.key_id,
        "X-Credit-Delivery-Id": str(item.delivery_id),
        "X-Credit-Event-Id": "" if item.change is None else str(item.change["id"]),
        "X-Credit-Event-Kind": document["kind"],
    }
    return body, headers


def backoff(attempts: int, settings: WebhookSettings, rng: random.Random) -> float:
    """Seconds until the next try after `attempts` tries: doubling from the base up to the cap, with
    jitter (a random half to all of it) so that many failed deliveries do not retry in step."""
    delay = min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** max(attempts - 1, 0))
    return delay * rng.uniform(0.5, 1.0)


def settle(
    session: Session, item: Claimed, result: SendResult, *, now: datetime, settings: WebhookSettings, rng: random.Random
) -> str:
    """Record the attempt; acknowledge after a 2xx, else schedule the retry or park. Only while the lease
    is ours: a worker whose lease ran out (another claimed it meanwhile) changes nothing. The new status."""
    session.execute(
        insert(_A).values(
            delivery_id=item.delivery_id,
            at=now,
            status_code=result.status,
            error=result.error[:500],
            duration_ms=result.duration_ms,
        )
    )
    mine = and_(_D.c.id == item.delivery_id, _D.c.lease_token == item.token, _D.c.status == DeliveryStatus.pending)
    if result.ok:
        values: dict[str, Any] = {"status": DeliveryStatus.delivered, "delivered_at": now, "last_error": ""}
    elif now - _aware(item.created_at) >= timedelta(hours=settings.retry_window_hours):
        values = {"status": DeliveryStatus.parked, "last_error": result.error[:500]}
    else:
        values = {
            "next_attempt_at": now + timedelta(seconds=backoff(item.attempts, settings, rng)),
            "last_error": result.error[:500],
        }
    values |= {"last_status": result.status, "lease_until": None, "lease_token": None}
    session.execute(update(_D).where(mine).values(**values))
    return values.get("status", DeliveryStatus.pending)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class PassReport:
    fanned_out: int = 0
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    parked: int = 0
    outcomes: list[tuple[int, str]] = field(default_factory=list)


ACTOR = Actor.system("deliver")


def deliver_pass(
    engine: Engine,
    settings: WebhookSettings,
    *,
    now: datetime | None = None,
    resolver: Resolver = system_resolver,
    rng: random.Random | None = None,
    sender: Callable[..., SendResult] = post,
) -> PassReport:
    """One pass: fan out, claim one batch, send it, settle each. Each step its own short transaction;
    no transaction is open while a POST is in flight."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
    report = PassReport()
    with session_scope(engine, ACTOR) as session:
        report.fanned_out = fan_out(session, now=now or utcnow(), chunk=settings.fanout_chunk)
    with session_scope(engine, ACTOR) as session:
        batch = claim(session, now=now or utcnow(), lease_seconds=settings.lease_seconds, limit=settings.batch)
        signer = signer_for(session, settings.key_dir) if batch else None
    report.claimed = len(batch)
    for item in batch:
        sent_at = now or utcnow()
        try:
            secret = decrypt_secret(item.secret_encrypted, settings.secret_key)
        except Exception as exc:  # an unreadable secret fails this delivery, not the pass
            result = SendResult(None, f"secret: {exc}")
        else:
            body, headers = signed_request(item, signer, secret, now=sent_at)  # type: ignore[arg-type]
            result = sender(item.url, body, headers, settings=settings, resolver=resolver)
        with session_scope(engine, ACTOR) as session:
            status = settle(session, item, result, now=now or utcnow(), settings=settings, rng=rng)
        report.outcomes.append((item.delivery_id, status))
        if status == DeliveryStatus.delivered:
            report.delivered += 1
        elif status == DeliveryStatus.parked:
            report.parked += 1
        else:
            report.retrying += 1
    return report


def run_worker(
    engine: Engine,
    settings: WebhookSettings,
    *,
    once: bool = False,
    idle_seconds: float = 1.0,
    stop: Callable[[], bool] = lambda: False,
    on_pass: Callable[[PassReport], None] | None = None,
) -> None:
    """Passes until stopped; with `once`, passes until nothing is due now, then returns."""
    while not stop():
        report = deliver_pass(engine, settings)
        if on_pass:
            on_pass(report)
        if report.claimed == 0:
            if once:
                return
            time.sleep(idle_seconds)
