"""The credit-check hot path (信用核查): answers from the stored assessment in one read and logs them in one
write, both in SQLAlchemy Core, with the active rule set and the API keys cached per process.

Why the stored answer is the live one:
- every change to a firm's effective events re-assesses it in the same transaction
  (credit.services.assessment.reassess_firms), a new rule set is followed by `assess_all`, and each
  stored row carries the day it stops being valid (credit.rules.validity): a check on a day in
  [as_of, valid_until) under the row's rule set is answered from it; any other day (a past `as_of`, a
  row past its validity, another rule set, a row a writer left without validity, no row) is evaluated
  live from the events, as `credit.services.checks.check_firm` does;
- the lists in force are not stored: the same read joins the firm's entries in force on the day;
- "a negative event in the last N months" (the award measure) is `cutoff(day, N) < last_negative_on`,
  exact on every day the row is valid (no negative event happens inside its validity).
tests/test_hot_checks.py holds the answers equal to `check_firm`'s for random histories and days.

The caches: `ConfigCache` per engine keeps the active rule set and the API keys (by prefix, unknown
prefixes included) at one value of the configuration version (credit.models.version), which database
triggers bump on every change to a key, a department or the active rule set. The check's one read also
reads the version; a changed version empties the cache at once, so a new rule set or a revoked key
takes effect from the next request on (the caller re-authenticates when `sync` says so)."""

from __future__ import annotations

import hashlib
import hmac
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Dialect,
    Engine,
    Select,
    TextClause,
    and_,
    bindparam,
    select,
    text,
    update,
)
from sqlmodel import Session

from credit.clock import FutureDate, check_not_future, today
from credit.models import (
    ApiKey,
    ApiRate,
    CreditCheck,
    CreditEvent,
    Department,
    EventStatus,
    Firm,
    FirmAssessment,
    Listing,
)
from credit.models.audit import Actor, append_audit, audit_row
from credit.models.base import utcnow
from credit.models.version import CONFIG_ROW, ConfigVersion
from credit.rules.dates import cutoff
from credit.rules.evaluate import EventFact, evaluate, negative_within
from credit.rules.ruleset import PURPOSES, RuleSet
from credit.services.check_log import new_receipt
from credit.services.checks import CheckError, answer_dict
from credit.services.listings import in_force_or_proposed
from credit.services.raw_sql import RawStatement, RawStatements
from credit.services.rulesets import active_ruleset
from credit.services.signing import Signer, active_key, signer_for

firm_t = Firm.__table__  # type: ignore[attr-defined]
assessment_t = FirmAssessment.__table__  # type: ignore[attr-defined]
listing_t = Listing.__table__  # type: ignore[attr-defined]
event_t = CreditEvent.__table__  # type: ignore[attr-defined]
version_t = ConfigVersion.__table__  # type: ignore[attr-defined]
key_t = ApiKey.__table__  # type: ignore[attr-defined]
department_t = Department.__table__  # type: ignore[attr-defined]
check_t = CreditCheck.__table__  # type: ignore[attr-defined]

# As credit.web.api.auth: noting when a key was last used is for operators, once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
CHUNK = 1000


# --- the per-process caches ---------------------------------------------------------------------------


@dataclass
class CachedKey:
    """A live or revoked API key as the hot path needs it (never the secret, only its hash)."""

    id: int
    prefix: str
    secret_hash: str
    scopes: tuple[str, ...]
    department_id: int
    department: str
    revoked: bool
    last_used_at: datetime | None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class CachedDepartment:
    id: int
    name: str


@dataclass
class ConfigCache:
    """What one process keeps of the configuration, valid at `version` (None: nothing loaded yet)."""

    version: int | None = None
    rules: RuleSet | None = None
    keys: dict[str, CachedKey | None] = field(default_factory=dict)
    signing: tuple[Path, Signer] | None = None  # the key directory and the active key's signer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sync(self, version: int) -> bool:
        """Align the cache with the database's version; True when it had to be emptied."""
        if version == self.version:
            return False
        with self.lock:
            self.version, self.rules, self.keys, self.signing = version, None, {}, None
        return True

    def cached_signer(self, key_dir: Path) -> Signer | None:
        """The signer kept at this version, without reading anything (None: `signer` must read)."""
        found = self.signing
        return found[1] if found is not None and found[0] == key_dir else None

    def signer(self, conn: Connection, key_dir: Path) -> Signer:
        """The active signing key's signer (read once per version: migration 0013 bumps it on a rotation;
        the private key file is read once per process). A first key made here is not kept: should this
        transaction roll back, no later answer may carry a key the database never stored."""
        found = self.cached_signer(key_dir)
        if found is not None:
            return found
        with Session(bind=conn) as session:  # joins the connection's transaction, never ends it
            session.info["actor"] = Actor.system("check")
            existed = active_key(session) is not None
            signer = signer_for(session, key_dir)
        if existed:
            self.signing = (key_dir, signer)
        return signer

    def ruleset(self, conn: Connection) -> RuleSet:
        """The active rule set (read once per version)."""
        rules = self.rules
        if rules is None:
            with Session(bind=conn) as session:  # joins the connection's transaction, never ends it
                session.info["actor"] = Actor.system("check")
                rules = self.rules = active_ruleset(session)
        return rules

    def key(self, conn: Connection, prefix: str) -> CachedKey | None:
        """The key of that prefix (read once per version; an unknown prefix is remembered too)."""
        if prefix in self.keys:
            return self.keys[prefix]
        row = conn.execute(
            select(
                key_t.c.id,
                key_t.c.prefix,
                key_t.c.secret_hash,
                key_t.c.scopes,
                key_t.c.department_id,
                department_t.c.name,
                key_t.c.revoked_at,
                key_t.c.last_used_at,
            )
            .join(department_t, department_t.c.id == key_t.c.department_id)
            .where(key_t.c.prefix == prefix)
        ).first()
        found = None
        if row is not None:
            found = CachedKey(
                row.id,
                row.prefix,
                row.secret_hash,
                tuple(row.scopes.split(",")),
                row.department_id,
                row.name,
                row.revoked_at is not None,
                row.last_used_at,
            )
        if len(self.keys) > 10_000:  # bad tokens must not grow the cache without bound
            self.keys.clear()
        self.keys[prefix] = found
        return found


_caches: weakref.WeakKeyDictionary[Engine, ConfigCache] = weakref.WeakKeyDictionary()


def config_cache(engine: Engine) -> ConfigCache:
    """This process's cache for the database behind `engine`."""
    cache = _caches.get(engine)
    if cache is None:
        cache = _caches.setdefault(engine, ConfigCache())
    return cache


def _version_column():
    return select(version_t.c.version).where(version_t.c.id == CONFIG_ROW).scalar_subquery()


def read_config_version(conn: Connection) -> int:
    """The configuration version now (0 before the first change)."""
    return conn.execute(select(_version_column())).scalar() or 0


def current_ruleset(session: Session) -> RuleSet:
    """The active rule set from this process's cache, checked against the configuration version in one
    small read (a page that needs only the rules: the public firm page)."""
    conn = session.connection()
    cache = config_cache(conn.engine)
    cache.sync(read_config_version(conn))
    return cache.ruleset(conn)


def authenticate(conn: Connection | None, cache: ConfigCache, token: str) -> CachedKey | None:
    """The live key behind a bearer token `<prefix>.<secret>`, from the cache (read through `conn` when
    the prefix is not cached; None only when it is); None if unknown, revoked or wrong (compared in
    constant time)."""
    prefix, _, secret = token.strip().partition(".")
    if not prefix or not secret:
        return None
    key = cache.keys.get(prefix) if conn is None else cache.key(conn, prefix)
    if key is None or key.revoked:
        return None
    if not hmac.compare_digest(key.secret_hash, hashlib.sha256(secret.encode()).hexdigest()):
        return None
    return key


# --- the answer -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HotAnswer:
    """One answered check, ready to log: the answer as given (without its check_id) and its log fields."""

    firm_id: int
    uscc: str
    purpose: str
    as_of: date
    grade: str
    rule_set_version: int
    answer: dict[str, Any]
    live: bool  # evaluated from the events (the stored assessment did not hold for the day)


@dataclass
class _Firm:
    id: int
    uscc: str
    name: str
    stored: Any  # the assessment columns of the read
    listings: list[Any] = field(default_factory=list)


def check_day(as_of: date | None) -> date:
    """The day of a check: today, or a past day (never a future one)."""
    try:
        return check_not_future(as_of or today(), field="核查日")
    except FutureDate as exc:
        raise CheckError(str(exc)) from None


def _read_statement(codes: int) -> Select:
    """THE read as a Core construct: the configuration version, each firm of the codes, its stored
    assessment and its entries in force on :day (a single code binds :uscc, several :codes)."""
    day = bindparam("day", date.min, type_=Date)  # placeholder values: every execution binds its own
    listing_on = and_(listing_t.c.firm_id == firm_t.c.id, in_force_or_proposed(day))  # type: ignore[arg-type]
    where = (
        firm_t.c.uscc == bindparam("uscc", "") if codes == 1 else firm_t.c.uscc.in_(bindparam("codes", expanding=True))
    )
    return (
        select(
            _version_column().label("config_version"),
            firm_t.c.id,
            firm_t.c.uscc,
            firm_t.c.name,
            assessment_t.c.as_of,
            assessment_t.c.score,
            assessment_t.c.grade,
            assessment_t.c.rule_set_version,
            assessment_t.c.valid_until,
            assessment_t.c.last_negative_on,
            listing_t.c.id.label("listing_id"),
            listing_t.c.kind,
            listing_t.c.status,
            listing_t.c.listed_from,
            listing_t.c.proposed_on,
            listing_t.c.listed_until,
            listing_t.c.reason,
        )
        .select_from(
            firm_t.outerjoin(assessment_t, assessment_t.c.firm_id == firm_t.c.id).outerjoin(listing_t, listing_on)
        )
        .where(where)
        .order_by(firm_t.c.id, listing_t.c.id)
    )


RAW = RawStatements()  # the hot path's statements, compiled once per dialect (credit.services.raw_sql)


def _one_firm_read(dialect: Dialect) -> RawStatement:
    """The single-code read, run on the driver's cursor: a SQLAlchemy execution of it cost more than the
    database did (its cache key, execution context and cursor metadata on every call)."""
    return RAW.get("read", dialect, lambda: (_read_statement(1), ("uscc", "day")))


def _read(conn: Connection, usccs: Sequence[str], day: date) -> tuple[int, dict[str, _Firm]]:
    """THE read: one statement per chunk of 1000 codes (one for a single check)."""
    version = 0
    found: dict[str, _Firm] = {}
    codes = sorted(set(usccs))
    if len(codes) == 1:
        results = [_one_firm_read(conn.dialect).execute(conn, {"uscc": codes[0], "day": day})]
    else:
        statement = _read_statement(len(codes))
        results = [
            conn.execute(statement, {"codes": codes[start : start + CHUNK], "day": day})
            for start in range(0, len(codes), CHUNK)
        ]
    for result in results:
        for row in result:
            version = row.config_version or 0
            entry = found.get(row.uscc)
            if entry is None:
                entry = found[row.uscc] = _Firm(row.id, row.uscc, row.name, row)
            if row.listing_id is not None:
                entry.listings.append(row)
    if not found:  # no row to carry the version: read it alone (unknown firms only)
        version = read_config_version(conn)
    return version, found


def _facts(conn: Connection, firm_ids: Iterable[int]) -> dict[int, list[EventFact]]:
    """The effective events of these firms (the live path only)."""
    ids = sorted(set(firm_ids))
    found: dict[int, list[EventFact]] = defaultdict(list)
    for start in range(0, len(ids), CHUNK):
        rows = conn.execute(
            select(
                event_t.c.firm_id,
                event_t.c.id,
                event_t.c.event_type,
                event_t.c.occurred_on,
                event_t.c.severity,
                event_t.c.valid_until,
            ).where(event_t.c.firm_id.in_(ids[start : start + CHUNK]), event_t.c.status == EventStatus.effective.value)
        )
        for firm_id, *values in rows:
            found[firm_id].append(EventFact(*values))
    return found


def stored_holds(stored: Any, day: date, rules: RuleSet) -> bool:
    """Whether the stored assessment answers a check on `day` under `rules` exactly."""
    return (
        stored.as_of is not None
        and stored.rule_set_version == rules.version
        and stored.valid_until is not None
        and stored.as_of <= day < stored.valid_until
    )


def answer_checks(
    conn: Connection, usccs: Sequence[str], *, purpose: str, as_of: date | None, cache: ConfigCache
) -> tuple[dict[str, HotAnswer], bool]:
    """Answer checks of these (valid) codes for `purpose` on `as_of` (default today): answers by code,
    unknown codes left out; and whether the configuration changed since the cache was filled (the
    caller then authenticates again). One read, plus one for the events of firms answered live."""
    if purpose not in PURPOSES:
        raise CheckError(f"用途须为 {', '.join(PURPOSES)} 之一")
    day = check_day(as_of)
    if not usccs:
        return {}, False
    version, firms = _read(conn, usccs, day)
    changed = cache.sync(version)
    rules = cache.ruleset(conn)
    live = [f.id for f in firms.values() if not stored_holds(f.stored, day, rules)]
    facts = _facts(conn, live) if live else {}
    live_ids = set(live)
    answers: dict[str, HotAnswer] = {}
    for code, firm in firms.items():
        if firm.id in live_ids:
            firm_facts = facts.get(firm.id, [])
            result = evaluate(firm_facts, day, rules)
            grade, score = result.grade, result.score

            def negative(months: int, firm_facts: list[EventFact] = firm_facts) -> bool:
                return negative_within(firm_facts, day, months, rules)
        else:
            grade, score = firm.stored.grade, firm.stored.score
            last = firm.stored.last_negative_on

            def negative(months: int, last: date | None = last) -> bool:
                return last is not None and cutoff(day, months) < last

        answers[code] = HotAnswer(
            firm_id=firm.id,
            uscc=firm.uscc,
            purpose=purpose,
            as_of=day,
            grade=grade,
            rule_set_version=rules.version,
            answer=answer_dict(
                uscc=firm.uscc,
                name=firm.name,
                grade=grade,
                score=score,
                listings=firm.listings,
                rules=rules,
                purpose=purpose,
                as_of=day,
                negative_within=negative,
            ),
            live=firm.id in live_ids,
        )
    return answers, changed


# --- the write -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who asked: through which channel, with which key or as which user."""

    channel: str
    api_key: CachedKey | None = None
    department: str = ""
    user_id: int | None = None
    username: str = ""


def log_rows(answers: Sequence[HotAnswer], caller: Caller, *, signer: Signer) -> list[dict[str, Any]]:
    """The check-log rows of these answers (an answer listed twice is logged twice, with two receipts):
    each row's `answer` is the answer as given, with its receipt as `check_id`, signed (`key_id`,
    `signature`: the stored answer re-verifies later)."""
    if caller.channel not in ("api", "web", "cli"):
        raise ValueError(f"unknown channel {caller.channel!r}")
    now = utcnow()
    rows = []
    for hot in answers:
        receipt = new_receipt()
        answer = signer.sign({**hot.answer, "check_id": receipt})
        rows.append(
            {
                "receipt": receipt,
                "checked_at": now,
                "firm_id": hot.firm_id,
                "uscc": hot.uscc,
                "purpose": hot.purpose,
                "as_of": hot.as_of,
                "channel": caller.channel,
                "api_key_id": caller.api_key.id if caller.api_key else None,
                "department": caller.department,
                "user_id": caller.user_id,
                "username": caller.username,
                "grade": hot.grade,
                "rule_set_version": hot.rule_set_version,
                "answer": answer,
            }
        )
    return rows


def insert_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Write check-log rows (one INSERT, on the driver's cursor) in the connection's transaction."""
    if rows:
        _log_insert(conn.dialect).execute_many(conn, rows)


def log_answers(
    conn: Connection, answers: Sequence[HotAnswer], caller: Caller, *, signer: Signer
) -> list[dict[str, Any]]:
    """THE write: every answer into the check log in one INSERT; returns the rows written (`log_rows`,
    signed). Notes the key's use (once a minute) in the same transaction."""
    rows = log_rows(answers, caller, signer=signer)
    insert_rows(conn, rows)
    if caller.api_key is not None:
        note_key_use(conn, caller.api_key, utcnow())
    return rows


_LOG_COLUMNS = (
    "receipt", "checked_at", "firm_id", "uscc", "purpose", "as_of", "channel", "api_key_id", "department",
    "user_id", "username", "grade", "rule_set_version", "answer",
)  # fmt: skip


def _log_insert(dialect: Dialect) -> RawStatement:
    """THE write, run on the driver's cursor (typed by the table's columns: the stored forms are the ORM's)."""

    def build() -> tuple[TextClause, tuple[str, ...]]:
        names = ", ".join(_LOG_COLUMNS)
        values = ", ".join(f":{name}" for name in _LOG_COLUMNS)
        # Column names from the module's own constant, values bound: nothing of a request enters the SQL.
        statement = text(f"INSERT INTO credit_check ({names}) VALUES ({values})").bindparams(  # nosec B608
            *(bindparam(name, type_=check_t.c[name].type) for name in _LOG_COLUMNS)
        )
        return statement, _LOG_COLUMNS

    return RAW.get("log", dialect, build)


# PostgreSQL: the count and the log row in ONE statement, so a check writes in one round trip on a
# connection in autocommit mode (one statement, one transaction): the counter's upsert refuses a request
# at the limit (no row returned, nothing counted, nothing logged), the log row is inserted once per row
# the upsert returned. Data-modifying WITH clauses always run to completion (PostgreSQL manual 7.8.4).
_COUNTED_LOG = (
    "WITH hit AS (INSERT INTO api_rate (key_id, window_start, count) VALUES (:key_id, :window_start, 1) "
    "ON CONFLICT (key_id, window_start) DO UPDATE SET count = api_rate.count + 1 WHERE api_rate.count < :limit "
    "RETURNING count), "
    "logged AS (INSERT INTO credit_check ({names}) SELECT {values} FROM hit RETURNING 1) "
    "SELECT count FROM hit"
)


def _counted_log(dialect: Dialect) -> RawStatement:
    def build() -> tuple[TextClause, tuple[str, ...]]:
        names = ", ".join(_LOG_COLUMNS)
        values = ", ".join(f":{name}" for name in _LOG_COLUMNS)
        # Column names from the module's own constant, values bound: nothing of a request enters the SQL.
        statement = text(_COUNTED_LOG.format(names=names, values=values)).bindparams(  # nosec B608
            *(bindparam(name, type_=check_t.c[name].type) for name in _LOG_COLUMNS),
            bindparam("window_start", type_=ApiRate.__table__.c.window_start.type),  # type: ignore[attr-defined]
        )
        return statement, (*_LOG_COLUMNS, "key_id", "window_start", "limit")

    return RAW.get("counted_log", dialect, build)


def log_counted(
    conn: Connection, row: dict[str, Any], *, key_id: int, window_start: datetime, limit: int
) -> int | None:
    """PostgreSQL, autocommit: count the request of `key_id` in its window and log `row`, in one statement
    (one round trip, one commit); the count, or None when the window was used up (then nothing written)."""
    found = _counted_log(conn.dialect).execute(
        conn, {**row, "key_id": key_id, "window_start": window_start, "limit": limit}
    )
    return found[0][0] if found else None


@contextmanager
def driver_transaction(conn: Connection) -> Iterator[None]:
    """An explicit transaction on a PostgreSQL connection in autocommit mode (the hot path's): the driver
    sends BEGIN, and SQLAlchemy's transaction on top of it ends it — in autocommit mode SQLAlchemy still
    hands COMMIT and ROLLBACK to the driver, which sends them because a transaction is open. Being a
    SQLAlchemy transaction too matters: an ORM Session bound to the connection inside it (the signer's
    first key, the rule set) joins it instead of rolling the connection back when it closes."""
    if conn.in_transaction():
        conn.rollback()  # a read's implicit SQLAlchemy transaction: nothing to keep (autocommit)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute("BEGIN")
    finally:
        cursor.close()
    with conn.begin():
        yield


def key_use_due(key: CachedKey, now: datetime) -> bool:
    """Whether the key's use is to be noted now (once a minute per process)."""
    return key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION


def note_key_use(conn: Connection, key: CachedKey, now: datetime) -> None:
    """Record when the key was last used, at most once a minute per process, audited as its department."""
    if not key_use_due(key, now):
        return
    conn.execute(update(key_t).where(key_t.c.id == key.id).values(last_used_at=now))
    append_audit(
        conn,
        [
            audit_row(
                Actor(label=f"api:{key.department}", source="api"),
                action="update",
                entity="api_key",
                entity_id=str(key.id),
                before={"last_used_at": key.last_used_at.isoformat() if key.last_used_at else None},
                after={"last_used_at": now.isoformat()},
            )
        ],
    )
    key.last_used_at = now
