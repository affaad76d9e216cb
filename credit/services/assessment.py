"""Assessing firms: one firm in the transaction that changed its file, or every firm at once with
set-based SQL inside the database. Both use the same rule set and give the same answers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Column, Integer, MetaData, Select, String, Table, cast, delete, insert, literal, text
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from credit.clock import check_not_future, today
from credit.models import CreditEvent, EventStatus, Firm, FirmAssessment, Listing, ListingStatus, ListKind, utcnow
from credit.models.assessment import VALID_FOREVER
from credit.models.audit import audit_row, write_audit
from credit.rules.dates import add_months
from credit.rules.evaluate import Assessment, EventFact, evaluate
from credit.rules.listings import (
    END_LABELS,
    EndCode,
    black_basis,
    proposal_due_sql,
    red_basis,
    red_reason,
    red_renewal_sql,
    trigger_reason,
    trigger_types,
)
from credit.rules.ruleset import RuleSet
from credit.rules.sql import assessment_query, negative_event_sql
from credit.rules.sql import credit_event as sql_credit_event
from credit.rules.validity import last_negative_on, valid_until
from credit.services.grade_history import record_history
from credit.services.listings import remove_red_for_negative, review_after_revocation, sync_listings
from credit.services.outbox import GradeSnapshot, record_grade_change
from credit.services.rulesets import active_ruleset

CHUNK = 1000


def facts_of(events: Iterable[CreditEvent]) -> list[EventFact]:
    return [EventFact(e.id, e.event_type, e.occurred_on, e.severity, e.valid_until) for e in events]  # type: ignore[arg-type]


def firm_facts(session: Session, firm_ids: Iterable[int]) -> dict[int, list[EventFact]]:
    """The effective events of these firms as facts, fetched in chunks."""
    ids = sorted(set(firm_ids))
    found: dict[int, list[EventFact]] = defaultdict(list)
    for start in range(0, len(ids), CHUNK):
        rows = session.exec(
            select(
                CreditEvent.firm_id,
                CreditEvent.id,
                CreditEvent.event_type,
                CreditEvent.occurred_on,
                CreditEvent.severity,
                CreditEvent.valid_until,
            ).where(
                col(CreditEvent.firm_id).in_(ids[start : start + CHUNK]), CreditEvent.status == EventStatus.effective
            )
        ).all()
        for firm_id, *values in rows:
            found[firm_id].append(EventFact(*values))
    return found


def assess_firm(session: Session, firm: Firm, *, as_of: date | None = None, rules: RuleSet | None = None) -> Assessment:
    """Evaluate one firm without storing anything (for pages, checks and explanations)."""
    rules = rules or active_ruleset(session)
    facts = firm_facts(session, [firm.id]).get(firm.id, [])  # type: ignore[list-item]
    return evaluate(facts, as_of or today(), rules)


def store_assessment(
    session: Session,
    firm_id: int,
    result: Assessment,
    facts: list[EventFact] | None = None,
    rules: RuleSet | None = None,
) -> None:
    """Keep `result` as the firm's assessment; with the firm's effective `facts`, also the day it stops
    being valid (credit.rules.validity), so checks until then answer from it; without, checks evaluate live."""
    row = session.get(FirmAssessment, firm_id)
    until = last_negative = None
    if facts is not None:
        rules = rules or active_ruleset(session)
        until = valid_until(facts, result.as_of, rules) or VALID_FOREVER
        last_negative = last_negative_on(facts, result.as_of, rules)
    values = {
        "as_of": result.as_of,
        "score": result.score,
        "grade": result.grade,
        "triggers": ",".join(result.triggers),
        "red_eligible": result.red_eligible,
        "red_basis": ",".join(result.red_basis),
        "rule_set_version": result.rule_set_version,
        "computed_at": utcnow(),
        "valid_until": until,
        "last_negative_on": last_negative,
    }
    previous = row.grade if row is not None else None
    if previous != result.grade:  # the change departments watch (issue 15), in this same transaction
        record_grade_change(
            session, firm_id=firm_id, previous=previous, grade=result.grade, score=result.score, as_of=result.as_of
        )
    if row is None:
        session.add(FirmAssessment(firm_id=firm_id, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)


def reassess_firms(session: Session, firm_ids: Iterable[int], *, as_of: date | None = None) -> dict[int, Assessment]:
    """Re-assess these firms now, store the results and bring their list entries in line, in the
    caller's transaction (SPEC §5: recording one event updates the firm's assessment and listings)."""
    rules = active_ruleset(session)
    day = check_not_future(as_of or today(), field="评价日")
    facts = firm_facts(session, firm_ids)
    results = {}
    for firm_id in sorted(set(firm_ids)):
        result = evaluate(facts.get(firm_id, []), day, rules)
        store_assessment(session, firm_id, result, facts.get(firm_id, []), rules)
        sync_listings(session, firm_id, result, rules)
        results[firm_id] = result
    session.flush()
    # The same statement as the set-based runs write the history with (credit.services.grade_history).
    record_history(session, firm_ids=results)
    return results


def after_event_change(session: Session, event: CreditEvent) -> None:
    """Called when an event becomes effective or is revoked (see after_events_change)."""
    after_events_change(session, [event])


def after_events_change(session: Session, events: list[CreditEvent]) -> None:
    """Events just became effective or were revoked: a firm leaves the red list the day a negative event
    takes effect; a black entry ends when its triggering event is revoked; then the firms are
    re-assessed and their entries brought in line — all in the caller's transaction."""
    if not events:
        return
    rules = active_ruleset(session)
    day = today()
    revoked_firms = {e.firm_id for e in events if e.status == EventStatus.revoked}
    facts = firm_facts(session, revoked_firms) if revoked_firms else {}
    negative: dict[int, int] = {}  # firm -> its first negative event (lowest id, as the set-based path)
    for event in events:
        rule = rules.rule_for(event.event_type, event.severity)
        if event.status == EventStatus.effective and rule is not None and rule.points < 0:
            known = negative.get(event.firm_id)
            negative[event.firm_id] = event.id if known is None else min(known, event.id)  # type: ignore[type-var]
    for firm_id, event_id in negative.items():
        remove_red_for_negative(session, firm_id, day, event_id)
    for event in events:
        if event.status == EventStatus.revoked:
            review_after_revocation(session, event.firm_id, facts.get(event.firm_id, []), rules, day, event.id)  # type: ignore[arg-type]
    reassess_firms(session, {e.firm_id for e in events}, as_of=day)


def _rows(result) -> int:
    """Rows a set-based statement wrote (0 when the driver cannot tell, never a negative count)."""
    return max(result.rowcount or 0, 0)


def _returned(result) -> int:
    """Rows an INSERT … SELECT … RETURNING wrote, counted from what it returned: the rowcount of an
    INSERT … SELECT is -1 on some drivers (psycopg printed "新列入红榜 -1")."""
    return sum(1 for _ in result)


def _insert_listings(session: Session, rules: RuleSet, values: dict, *where) -> int:
    """INSERT … SELECT one listing per assessed firm matching `where`, with `values` (SQL expressions per
    column) and the columns every new listing shares; returns how many were written."""
    table = Listing.__table__  # type: ignore[attr-defined]
    columns = {
        "firm_id": FirmAssessment.firm_id,
        "rule_set_version": literal(rules.version),
        "service_method": literal(""),
        "service_note": literal(""),
        "waived": literal(False),
        "decision_note": literal(""),
        "end_reason": literal(""),
        "created_at": literal(utcnow(), table.c.created_at.type),
        **values,
    }
    statement = insert(Listing).from_select(list(columns), sa_select(*columns.values()).where(*where))
    return _returned(session.execute(statement.returning(table.c.id)))


@dataclass
class AssessRun:
    """What a city-wide assessment did."""

    as_of: date
    rule_set_version: int
    firms: int = 0
    grades: dict[str, int] | None = None
    black_proposed: int = 0
    red_listed: int = 0
    red_renewed: int = 0


def _store_set(session: Session, assessed: Select, *, as_of: date, rules: RuleSet, firms: Select | None = None) -> None:
    """Replace the stored assessments of every firm (or of `firms`) by the rows of `assessed`, with the
    date each stops being valid, in two set-based statements (three for a past `as_of`), and append the
    changed ones to the grade history."""
    query = assessed.subquery()
    scope = [] if firms is None else [col(FirmAssessment.firm_id).in_(firms)]
    grades = GradeSnapshot(session, scope)  # the grades before, for the outbox's grade changes
    grades.before()
    session.execute(delete(FirmAssessment).where(*scope))
    session.execute(
        insert(FirmAssessment).from_select(
            [
                "firm_id",
                "as_of",
                "score",
                "grade",
                "triggers",
                "red_eligible",
                "red_basis",
                "rule_set_version",
                "computed_at",
                "valid_until",
                "last_negative_on",
            ],
            sa_select(
                query.c.firm_id,
                literal(as_of),
                query.c.score,
                query.c.grade,
                query.c.triggers,
                query.c.red_eligible,
                query.c.red_basis,
                literal(rules.version),
                literal(utcnow(), FirmAssessment.__table__.c.computed_at.type),
                query.c.valid_until,
                query.c.last_negative_on,
            ),
        )
    )
    grades.after()
    if as_of < today():
        # The pass read events up to as_of only: a firm with a later event is answered live by checks.
        later = sa_select(CreditEvent.firm_id).where(
            CreditEvent.status == EventStatus.effective, col(CreditEvent.occurred_on) > as_of
        )
        session.execute(
            FirmAssessment.__table__.update()  # type: ignore[attr-defined]
            .where(FirmAssessment.__table__.c.firm_id.in_(later), *scope)  # type: ignore[attr-defined]
            .values(valid_until=as_of)
        )
    record_history(session, firms=firms)


def audit_run(session: Session, run: AssessRun, **extra: object) -> None:
    """One audit entry for a set-based assessment run, with its counts (the ORM hooks never see it)."""
    after = {
        "as_of": run.as_of.isoformat(),
        "rule_set_version": run.rule_set_version,
        "firms": run.firms,
        "grades": run.grades,
        "black_proposed": run.black_proposed,
        "red_listed": run.red_listed,
        "red_renewed": run.red_renewed,
        **extra,
    }
    row = audit_row(session.info["actor"], action="assess", entity="assessment", entity_id=run.as_of.isoformat())
    write_audit(session, [{**row, "after": after}])


def assess_all(
    session: Session, *, as_of: date, rules: RuleSet | None = None, progress: Callable[[str], None] | None = None
) -> AssessRun:
    """Assess every firm in a few set-based statements inside the database, then propose black listings
    and list or renew red ones for the firms that qualify, by the same rules as `sync_listings`
    (credit.rules.listings). A proposal made here is dated `as_of`; its notice is then served."""
    check_not_future(as_of, field="评价日")
    rules = rules or active_ruleset(session)
    run = AssessRun(as_of=as_of, rule_set_version=rules.version)
    step = progress or (lambda _message: None)

    step("评价")
    _store_set(session, assessment_query(rules, as_of), as_of=as_of, rules=rules)
    counts = session.exec(select(FirmAssessment.grade, func.count()).group_by(FirmAssessment.grade)).all()
    run.grades = dict(counts)
    run.firms = sum(run.grades.values())

    step("黑榜拟列入")
    _list_set_based(session, rules, as_of, run, step)
    # Set-based writes bypass the ORM hooks: the run is audited as one act with its counts.
    audit_run(session, run)
    session.expire_all()
    return run


def _list_set_based(
    session: Session,
    rules: RuleSet,
    as_of: date,
    run: AssessRun,
    step: Callable[[str], None],
    firms: Select | None = None,
) -> None:
    """Propose black listings and list or renew red ones for the assessed firms that qualify (all stored
    assessments, or those of `firms`, a SELECT of firm ids), by the same rules as `sync_listings`."""
    scope = [] if firms is None else [col(FirmAssessment.firm_id).in_(firms)]
    # A firm is proposed when a trigger holds, no entry is open, and its newest triggering event is newer
    # than every black entry it ever had (so an early removal or an upheld objection sticks).
    events = CreditEvent.__table__
    listing = Listing.__table__
    newest = (
        sa_select(func.max(events.c.id))
        .where(
            events.c.firm_id == FirmAssessment.firm_id,
            events.c.status == EventStatus.effective.value,
            events.c.event_type.in_(trigger_types(rules)),
        )
        .scalar_subquery()
    )
    covered = (
        sa_select(func.coalesce(func.max(listing.c.covers_event_id), 0))
        .where(listing.c.firm_id == FirmAssessment.firm_id, listing.c.kind == "black")
        .scalar_subquery()
    )
    open_black = FirmAssessment.firm_id.in_(  # type: ignore[union-attr]
        select(Listing.firm_id).where(Listing.kind == ListKind.black, col(Listing.status).in_(["proposed", "listed"]))
    )
    due = proposal_due_sql(
        triggers=FirmAssessment.triggers,  # type: ignore[arg-type]
        open_black=open_black,
        newest=newest,
        covered=covered,
    )
    combos = session.exec(select(FirmAssessment.triggers).where(due, *scope).distinct()).all()
    for combo in combos:
        codes = combo.split(",")
        values = {
            "kind": literal("black"),
            "status": literal("proposed"),
            "reason": literal(trigger_reason(rules, codes)),
            "basis": literal(black_basis(rules, codes, as_of), listing.c.basis.type),
            "proposed_on": literal(as_of),
            "covers_event_id": newest,
        }
        run.black_proposed += _insert_listings(session, rules, values, FirmAssessment.triggers == combo, due, *scope)

    step("红榜")
    until = add_months(as_of, rules.red.list_months)
    eligible = select(FirmAssessment.firm_id).where(col(FirmAssessment.red_eligible).is_(True), *scope)
    renewed = session.execute(
        Listing.__table__.update()
        .where(
            listing.c.kind == "red",
            listing.c.status == "listed",
            red_renewal_sql(listing.c.listed_until, until),
            listing.c.firm_id.in_(eligible),
        )
        .values(listed_until=until)
    )
    run.red_renewed = _rows(renewed)
    open_red = select(Listing.firm_id).where(Listing.kind == ListKind.red, Listing.status == ListingStatus.listed)
    new_red = (col(FirmAssessment.red_eligible).is_(True), col(FirmAssessment.firm_id).not_in(open_red), *scope)
    for codes in session.exec(select(FirmAssessment.red_basis).where(*new_red).distinct()).all():
        values = {
            "kind": literal("red"),
            "status": literal("listed"),
            "reason": literal(red_reason(rules)),
            "basis": literal(red_basis(codes.split(","), as_of, rules), listing.c.basis.type),
            "listed_from": literal(as_of),
            "listed_until": literal(until),
        }
        run.red_listed += _insert_listings(session, rules, values, FirmAssessment.red_basis == codes, *new_red)


def reassess_set(session: Session, firms: Select, *, as_of: date, rules: RuleSet | None = None) -> AssessRun:
    """`reassess_firms` for a set of firms given as a SELECT of firm ids, in a few set-based statements:
    their stored assessments replaced by the SQL evaluator restricted to them, then black proposals and
    red listings or renewals by the same rules as the per-firm path (tests hold the two equal). Runs in
    the caller's transaction; the caller audits the act."""
    rules = rules or active_ruleset(session)
    run = AssessRun(as_of=as_of, rule_set_version=rules.version)
    _store_set(session, assessment_query(rules, as_of, firms=firms), as_of=as_of, rules=rules, firms=firms)
    counts = session.exec(
        select(FirmAssessment.grade, func.count())
        .where(col(FirmAssessment.firm_id).in_(firms))
        .group_by(FirmAssessment.grade)
    ).all()
    run.grades = dict(counts)
    run.firms = sum(run.grades.values())
    _list_set_based(session, rules, as_of, run, lambda _message: None, firms)
    return run


def remove_red_for_negative_set(session: Session, events: Select, *, on: date, rules: RuleSet) -> int:
    """动态调整, set-based: every firm with a negative event among `events` (a SELECT of event ids that
    just took effect) leaves the red list on `on`, its entry naming the firm's first such event — as
    `remove_red_for_negative` does firm by firm. Returns how many entries ended."""
    event = sql_credit_event
    listing = Listing.__table__
    first_negative = (
        sa_select(func.min(event.c.id))
        .where(
            event.c.firm_id == listing.c.firm_id,
            event.c.id.in_(events),
            event.c.status == EventStatus.effective.value,
            negative_event_sql(rules),
        )
        .scalar_subquery()
    )
    label = END_LABELS[EndCode.negative_event]
    reason = literal(f"{label}:事件 #") + cast(first_negative, String)
    result = session.execute(
        listing.update()
        .where(
            listing.c.kind == ListKind.red.value,
            listing.c.status.in_([ListingStatus.proposed.value, ListingStatus.listed.value]),
            first_negative.is_not(None),
        )
        .values(
            status=ListingStatus.removed.value,
            ended_on=on,
            end_code=EndCode.negative_event.value,
            end_reason=func.substr(reason, 1, 1000),
        )
    )
    return _rows(result)


_FIRM_SET = Table("tmp_firm_set", MetaData(), Column("firm_id", Integer, primary_key=True), prefixes=["TEMPORARY"])


@contextmanager
def firm_set(session: Session, firm_ids: Select) -> Iterator[Select]:
    """A set of firm ids materialised once in a temporary table with a primary key, for the statements
    that restrict to it (each would otherwise re-run the SELECT that finds the firms); dropped after."""
    connection = session.connection()
    _FIRM_SET.create(connection, checkfirst=True)
    connection.execute(_FIRM_SET.delete())
    connection.execute(insert(_FIRM_SET).from_select(["firm_id"], firm_ids))
    if connection.dialect.name == "postgresql":
        connection.execute(text("ANALYZE tmp_firm_set"))
    try:
        yield sa_select(_FIRM_SET.c.firm_id)
    finally:
        _FIRM_SET.drop(connection)


def after_batch_effective(session: Session, events: Select) -> None:
    """Events just became effective together (`events`: a SELECT of their ids, e.g. an approved import
    batch): `after_events_change` set-based — firms with a negative one leave the red list, then the firms
    are re-assessed as of today and their entries brought in line, in a few statements whatever the
    batch's size; audited as one act with its counts."""
    rules = active_ruleset(session)
    day = today()
    ended = remove_red_for_negative_set(session, events, on=day, rules=rules)
    event = CreditEvent.__table__.alias("changed")  # type: ignore[attr-defined]
    with firm_set(session, sa_select(event.c.firm_id).where(event.c.id.in_(events)).distinct()) as firms:
        run = reassess_set(session, firms, as_of=day, rules=rules)
    audit_run(session, run, scope="batch", red_removed=ended)
    session.expire_all()
