"""Compile a rule set to one set-based SQL statement: the assessment of every firm on one date.

`assessment_query(rules, as_of)` gives, for every row of `firm`, exactly what `evaluate()` gives for that
firm's effective events (tests/test_rules_sql.py holds the two evaluators to the same answers). It is one
SQLAlchemy Core construct that runs unchanged on SQLite and PostgreSQL, so batch assessment runs inside the
database (SPEC §3, scale-out) within the §5 bar of 3× a plain
`SELECT firm_id, SUM(points) … GROUP BY firm_id`:

1. `agg`: ONE grouped pass over `credit_event` (effective, occurred_on <= as_of) computing every per-firm
   quantity as a conditional aggregate: a points column per capped (or mixed-sign) type, one for the other
   positive points, one for the other negative points, the latest negative event's date, a count per
   black-list trigger, the count of spot-check passes and whether an honour counts.
   It also gives the latest event of the state pair (首席质量官 任命/离任), as one packed MAX.
2. `per_firm`: every firm LEFT JOIN `agg`; capped types capped; whether the state holds.
3. The outer levels turn those into score, grade, triggers and red eligibility with CASE only.

Every window is one comparison `cutoff_N < occurred_on <= as_of` (credit.rules.dates.cutoff), with the
cut-off dates computed in Python once per distinct window length and bound as parameters.

Nothing here opens a session or knows the ORM: it builds statements over the columns it names below."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    column,
    extract,
    false,
    func,
    literal,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.dialects import registry
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Subquery

from credit.rules.dates import cutoff
from credit.rules.ruleset import PointRule, RuleSet

# The columns the assessment reads (tables credit_event and firm of credit.models). Declared here, not
# imported, so the rules stay free of the ORM; the tests run the statement on the migrated schema.
credit_event = table(
    "credit_event",
    column("id", Integer),
    column("firm_id", Integer),
    column("event_type", String),
    column("severity", String),
    column("occurred_on", Date),
    column("valid_until", Date),
    column("status", String),
)
firm = table("firm", column("id", Integer))

EFFECTIVE = "effective"  # SPEC §2: only effective events count
FOREVER = "9999-12-31"  # credit.models.assessment.VALID_FOREVER: nothing changes with time
TRIGGER_SEPARATOR = ","


@dataclass(frozen=True)
class _Params:
    """The bound parameters of one statement: the date and one cut-off per window length."""

    as_of: BindParameter[date]
    cuts: dict[int, BindParameter[date]]
    firms: Select | None = None  # a SELECT of the firm ids the statement is restricted to (None: all)

    @classmethod
    def build(cls, rules: RuleSet, as_of: date, firms: Select | None = None) -> _Params:
        return cls(
            as_of=bindparam("as_of", as_of, type_=Date),
            cuts={m: bindparam(f"cutoff_{m}", cutoff(as_of, m), type_=Date) for m in sorted(rules.window_months)},
            firms=firms,
        )

    def scope(self, firm_id: ColumnElement[int]) -> list[ColumnElement[bool]]:
        """The restriction to `firms` (a semi-join on a sub-select, never a list of ids), if any."""
        return [] if self.firms is None else [firm_id.in_(self.firms)]

    def within(self, months: int) -> ColumnElement[bool]:
        """The event happened in the last `months` months (the upper bound is the pass's WHERE)."""
        return credit_event.c.occurred_on > self.cuts[months]


# --- which events a rule applies to -------------------------------------------------------------------


def _matches(rules: RuleSet, chosen: Iterable[PointRule]) -> ColumnElement[bool]:
    """Events whose rule (`RuleSet.rule_for`: by type and severity, else by type alone) is one of `chosen`.

    Invariant: for every (event_type, severity) — NULL severity included — the predicate is true exactly
    when `rules.rule_for(event_type, severity) in chosen`."""
    wanted: dict[str, set[str | None]] = defaultdict(set)
    for rule in chosen:
        wanted[rule.event_type].add(rule.severity)
    exact_by_type: dict[str, set[str]] = defaultdict(set)
    for event_type, severity in rules.points:
        if severity is not None:
            exact_by_type[event_type].add(severity)

    whole_types: list[str] = []
    parts: list[ColumnElement[bool]] = []
    sev = credit_event.c.severity
    for event_type in sorted(wanted):
        severities = wanted[event_type]
        exact = exact_by_type[event_type]
        if None in severities:
            # The type-wide rule takes every severity except those with a rule of their own not chosen.
            excluded = sorted(exact - severities)
            if not excluded:
                whole_types.append(event_type)
                continue
            cond = or_(sev.is_(None), sev.not_in(excluded))
        else:
            cond = sev.in_(sorted(s for s in severities if s is not None))
        parts.append(and_(credit_event.c.event_type == event_type, cond))
    if whole_types:
        parts.insert(0, credit_event.c.event_type.in_(whole_types))
    return or_(false(), *parts) if parts else false()


def _counts(rule: PointRule, params: _Params) -> ColumnElement[bool]:
    """The event, already known to fall under `rule`, counts on as_of (evaluate._counts): while
    as_of < valid_until for an until_valid rule with a valid_until, else inside the rule's window."""
    assert rule.months is not None, "state rules have no window"
    window = params.within(rule.months)
    if not rule.until_valid:
        return window
    valid_until = credit_event.c.valid_until
    return or_(
        and_(valid_until.is_not(None), valid_until > params.as_of),
        and_(valid_until.is_(None), window),
    )


def _points_sum(rules: RuleSet, chosen: list[PointRule], params: _Params) -> ColumnElement[int]:
    """SUM of the points of the counting events under `chosen` rules. Rules with the same points and
    window share one WHEN, so the CASE stays short."""
    groups: dict[tuple[int, int | None, bool], list[PointRule]] = defaultdict(list)
    for rule in chosen:
        if rule.points:
            groups[(rule.points, rule.months, rule.until_valid)].append(rule)
    if not groups:
        return literal(0, Integer)
    whens = [
        (and_(_matches(rules, group), _counts(group[0], params)), points) for (points, _, _), group in groups.items()
    ]
    return func.sum(case(*whens, else_=0))


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


# --- how the rules split into aggregate columns --------------------------------------------------------


def _point_rules(rules: RuleSet) -> list[PointRule]:
    return [r for r in rules.points.values() if r.state is None]


def _state_rules(rules: RuleSet) -> tuple[PointRule | None, PointRule | None]:
    starts = [r for r in rules.points.values() if r.state == "start"]
    ends = [r for r in rules.points.values() if r.state == "end"]
    return (starts[0] if starts else None), (ends[0] if ends else None)


def _own_column_types(rules: RuleSet) -> list[str]:
    """Types whose total needs a column of its own: a capped type (its cap applies to the type's sum),
    and a type whose rules have both signs (evaluate classes a type's net total as a plus or a minus)."""
    signs: dict[str, set[int]] = defaultdict(set)
    for rule in rules.points.values():
        if rule.points:
            signs[rule.event_type].add(1 if rule.points > 0 else -1)
    return sorted(set(rules.caps) | {t for t, s in signs.items() if len(s) > 1})


def _capped(total: ColumnElement[int], cap: int | None) -> ColumnElement[int]:
    """A type's total after its cap: a negative cap is a floor, a positive cap a ceiling."""
    if cap is None:
        return total
    if cap < 0:
        return case((total < cap, cap), else_=total)
    return case((total > cap, cap), else_=total)


def _positive_part(value: ColumnElement[int]) -> ColumnElement[int]:
    return case((value > 0, value), else_=0)


def _negative_part(value: ColumnElement[int]) -> ColumnElement[int]:
    return case((value < 0, value), else_=0)


def _aggregates(rules: RuleSet, params: _Params) -> Subquery:
    """The one grouped pass over credit_event: every per-firm sum, count and flag (subquery `agg`)."""
    own = _own_column_types(rules)
    plain = [r for r in _point_rules(rules) if r.event_type not in own]
    negative_rules = [r for r in rules.points.values() if r.points < 0]
    honour_rules = [r for r in _point_rules(rules) if r.event_type in rules.red.honours]

    columns: list[ColumnElement] = [credit_event.c.firm_id]
    for index, event_type in enumerate(own):
        chosen = [r for r in _point_rules(rules) if r.event_type == event_type]
        columns.append(_points_sum(rules, chosen, params).label(f"type_{index}"))
    columns.append(_points_sum(rules, [r for r in plain if r.points > 0], params).label("positive"))
    columns.append(_points_sum(rules, [r for r in plain if r.points < 0], params).label("negative"))
    # The newest negative event (SPEC §2: negative = a rule with negative points), for every
    # "no negative event in N months" criterion at once.
    latest_negative = case((_matches(rules, negative_rules), credit_event.c.occurred_on))
    columns.append(func.max(latest_negative).label("latest_negative"))
    for index, trigger in enumerate(rules.triggers):
        cond = credit_event.c.event_type.in_(trigger.types)
        if trigger.severities:
            cond = and_(cond, credit_event.c.severity.in_(trigger.severities))
        columns.append(_count(and_(cond, params.within(trigger.months))).label(f"trigger_{index}"))
    red = rules.red
    passes = and_(credit_event.c.event_type == red.passes_type, params.within(red.passes_months))
    columns.append(_count(passes).label("passes"))
    honour_whens = [(and_(_matches(rules, [r]), _counts(r, params)), 1) for r in honour_rules]
    columns.append(func.max(case(*honour_whens, else_=0) if honour_whens else literal(0, Integer)).label("honour"))
    # Validity (credit.rules.validity): per window length, the oldest event still inside it — its
    # window_end is the first day that window changes the answer — and the next valid_until to pass.
    for m in sorted(rules.window_months):
        columns.append(func.min(case((params.within(m), credit_event.c.occurred_on))).label(f"band_{m}"))
    valid_until = credit_event.c.valid_until
    columns.append(func.min(case((valid_until > params.as_of, valid_until))).label("next_valid"))
    start, end = _state_rules(rules)
    if start is not None and end is not None:
        columns.append(func.max(case((_matches(rules, [start]), _state_key()))).label("latest_start"))
        columns.append(func.max(case((_matches(rules, [end]), _state_key()))).label("latest_end"))

    return (
        select(*columns)
        .where(
            credit_event.c.status == EFFECTIVE,
            credit_event.c.occurred_on <= params.as_of,
            *params.scope(credit_event.c.firm_id),
        )
        .group_by(credit_event.c.firm_id)
        .subquery("agg")
    )


# An event id is below 10^10, so yyyymmdd · 10^10 + id < 10^18 fits a BIGINT.
STATE_ID_LIMIT = 10**10


def _state_key() -> ColumnElement[int]:
    """One integer per event that orders events as evaluate orders the state pair's events — by
    occurred_on, then id: yyyymmdd · 10^10 + id. Unique per event, so comparing the MAX over a firm's
    start events with the MAX over its end events tells which is the latest, in the one grouped pass.
    (EXTRACT compiles to STRFTIME on SQLite.)"""
    occurred = credit_event.c.occurred_on
    day = (
        cast(extract("year", occurred), BigInteger) * 10000
        + cast(extract("month", occurred), BigInteger) * 100
        + cast(extract("day", occurred), BigInteger)
    )
    return day * STATE_ID_LIMIT + credit_event.c.id


def _in_post(rules: RuleSet, agg: Subquery) -> ColumnElement[int]:
    """1 while the state holds (首席质量官 in post): the latest start/end event on or before as_of is the
    start one; else 0."""
    start, end = _state_rules(rules)
    if start is None or end is None:
        return literal(0, Integer)
    started, ended = agg.c.latest_start, agg.c.latest_end
    return case((and_(started.is_not(None), or_(ended.is_(None), started > ended)), 1), else_=0)


class add_months(FunctionElement):
    """`credit.rules.dates.add_months(day, months)` in SQL for a constant `months`: the same calendar day,
    or the month's last day when that day does not exist."""

    type = Date()
    inherit_cache = True


@compiles(add_months, "postgresql")
def _add_months_pg(element, compiler, **kw):
    day, months = list(element.clauses)
    # PostgreSQL's month arithmetic already clamps to the month's last day (2024-01-31 + 1 month = 02-29).
    return f"CAST({compiler.process(day, **kw)} + INTERVAL '{int(months.value)} months' AS DATE)"


@compiles(add_months, "sqlite")
def _add_months_sqlite(element, compiler, **kw):
    day, months = list(element.clauses)
    text, m = compiler.process(day, **kw), int(months.value)
    # SQLite's '+N months' overflows into the next month (01-31 + 1 month = 03-02): take the earlier of
    # that and the target month's last day. ISO dates compare as text.
    return f"min(date({text}, '+{m} months'), date({text}, 'start of month', '+{m + 1} months', '-1 day'))"


class earliest_or_forever(FunctionElement):
    """The earliest of some dates, NULLs ignored; FOREVER when all are NULL."""

    type = Date()
    inherit_cache = True


@compiles(earliest_or_forever, "postgresql")
def _earliest_pg(element, compiler, **kw):
    return f"COALESCE(LEAST({compiler.process(element.clauses, **kw)}), DATE '{FOREVER}')"


@compiles(earliest_or_forever, "sqlite")
def _earliest_sqlite(element, compiler, **kw):
    # min() with two or more arguments is SQLite's scalar minimum (one argument would be the aggregate).
    parts = [f"coalesce({compiler.process(c, **kw)}, '{FOREVER}')" for c in element.clauses]
    return f"min({', '.join(parts)}, '{FOREVER}')"


def _validity_columns(rules: RuleSet, agg: Subquery) -> list[ColumnElement]:
    """valid_until of credit.rules.validity for the events the pass read: the earliest window_end over
    every window length of its oldest event inside it, and the next valid_until."""
    ends = [add_months(agg.c[f"band_{m}"], literal(m, Integer)) for m in sorted(rules.window_months)]
    return [earliest_or_forever(*ends, agg.c.next_valid).label("valid_until")]


def _per_firm(rules: RuleSet, params: _Params) -> Subquery:
    """Every firm (LEFT JOIN, so a firm without events has zeros) with its aggregates, each capped type
    already capped, and whether the state holds (subquery `per_firm`)."""
    agg = _aggregates(rules, params)

    def zero_if_null(name: str) -> ColumnElement[int]:
        return func.coalesce(agg.c[name], 0)

    columns = [
        firm.c.id.label("firm_id"),
        *(
            _capped(zero_if_null(f"type_{i}"), rules.caps.get(t)).label(f"type_{i}")
            for i, t in enumerate(_own_column_types(rules))
        ),
        zero_if_null("positive").label("positive"),
        zero_if_null("negative").label("negative"),
        agg.c.latest_negative,
        *(zero_if_null(f"trigger_{i}").label(f"trigger_{i}") for i in range(len(rules.triggers))),
        zero_if_null("passes").label("passes"),
        zero_if_null("honour").label("honour"),
        _in_post(rules, agg).label("in_post"),
        *_validity_columns(rules, agg),
    ]
    return (
        select(*columns)
        .select_from(firm.outerjoin(agg, agg.c.firm_id == firm.c.id))
        .where(*params.scope(firm.c.id))
        .subquery("per_firm")
    )


def _firm_totals(rules: RuleSet, params: _Params) -> Subquery:
    """Per firm: the score and the inputs of grade, triggers and red (subquery `totals`).
    score = base + min(positives, positive_cap) + negatives, where a type's total is a positive or a
    negative after its own cap, and the state's points join their type after that cap (as in evaluate)."""
    per_firm = _per_firm(rules, params)
    own = _own_column_types(rules)
    start, _ = _state_rules(rules)
    state_type = start.event_type if start is not None and start.points else None
    state_points = per_firm.c.in_post * (start.points if start is not None else 0)

    positive: ColumnElement[int] = per_firm.c.positive
    negative: ColumnElement[int] = per_firm.c.negative
    for index, event_type in enumerate(own):
        total: ColumnElement[int] = per_firm.c[f"type_{index}"]
        if event_type == state_type:
            total = total + state_points
        positive = positive + _positive_part(total)
        negative = negative + _negative_part(total)
    if state_type is not None and state_type not in own:
        if start is not None and start.points > 0:
            positive = positive + state_points
        else:
            negative = negative + state_points
    capped_positive = case((positive > rules.positive_cap, rules.positive_cap), else_=positive)
    score = literal(rules.base_score, Integer) + capped_positive + negative

    honour: ColumnElement[int] = per_firm.c.honour
    if start is not None and start.event_type in rules.red.honours:
        honour = honour + per_firm.c.in_post  # evaluate lists a state in force among the counted events

    columns = [
        per_firm.c.firm_id,
        score.label("score"),
        per_firm.c.latest_negative,
        per_firm.c.passes,
        honour.label("honour"),
        *(per_firm.c[f"trigger_{i}"] for i in range(len(rules.triggers))),
        per_firm.c.valid_until,
    ]
    return select(*columns).subquery("totals")


# --- grade, triggers and red from the per-firm totals -------------------------------------------------


def _no_negative_within(totals, params: _Params, months: int) -> ColumnElement[bool]:
    """No negative event in the last `months` months (NULL latest_negative: none at all)."""
    latest = totals.c.latest_negative
    return or_(latest.is_(None), latest <= params.cuts[months])


def _trigger_holds(totals, rules: RuleSet) -> list[ColumnElement[bool]]:
    return [totals.c[f"trigger_{i}"] >= t.min_count for i, t in enumerate(rules.triggers)]


def _grade(totals, rules: RuleSet, params: _Params) -> ColumnElement[str]:
    """The grade cascade of evaluate: the first grade whose min_score the score reaches (and with no
    negative event in its no_negative_months, when set); the last grade otherwise or when any trigger
    holds."""
    last = rules.grades[-1].grade
    whens: list[tuple[ColumnElement[bool], str]] = []
    holds = _trigger_holds(totals, rules)
    if holds:
        whens.append((or_(*holds), last))
    for level in rules.grades[:-1]:
        cond = totals.c.score >= level.min_score
        if level.no_negative_months:
            cond = and_(cond, _no_negative_within(totals, params, level.no_negative_months))
        whens.append((cond, level.grade))
    return case(*whens, else_=literal(last, String)) if whens else literal(last, String)


def _triggers_text(totals, rules: RuleSet) -> ColumnElement[str]:
    """The codes of the triggers that hold, in rule order, comma-separated; '' when none. Each piece
    carries a leading separator and SUBSTR(…, 2) drops the first (portable: no CONCAT_WS on SQLite)."""
    if not rules.triggers:
        return literal("", String)
    pieces = [
        case((holds, literal(TRIGGER_SEPARATOR + t.code, String)), else_=literal("", String))
        for holds, t in zip(_trigger_holds(totals, rules), rules.triggers, strict=True)
    ]
    joined = pieces[0]
    for piece in pieces[1:]:
        joined = joined.concat(piece)
    return func.substr(joined, 2, type_=String)


def _red_eligible(graded, params: _Params, rules: RuleSet) -> ColumnElement[bool]:
    """Red eligibility (SPEC §2 红榜): the red grade, no negative event in red.no_negative_months, and an
    honour that counts or at least passes_min passes in passes_months."""
    red = rules.red
    cond = and_(
        graded.c.grade == red.grade,
        _no_negative_within(graded, params, red.no_negative_months),
        or_(graded.c.honour > 0, graded.c.passes >= red.passes_min),
    )
    return case((cond, true()), else_=false())


def _red_basis(graded, params: _Params, rules: RuleSet) -> ColumnElement[str]:
    """The red criteria met, as evaluate's `red_basis` joined by commas: 'honour', 'passes', both, or ''."""
    red = rules.red
    base = and_(graded.c.grade == red.grade, _no_negative_within(graded, params, red.no_negative_months))
    honour = graded.c.honour > 0
    passes = graded.c.passes >= red.passes_min
    return case(
        (and_(base, honour, passes), literal("honour,passes", String)),
        (and_(base, honour), literal("honour", String)),
        (and_(base, passes), literal("passes", String)),
        else_=literal("", String),
    )


def assessment_query(rules: RuleSet, as_of: date, *, firms: Select | None = None) -> Select:
    """One row per firm: (firm_id, score, grade, triggers, red_eligible, red_basis, valid_until,
    last_negative_on) as of `as_of` under `rules`; with `firms` (a SELECT of firm ids), one row per firm
    of that set only — the events pass and the firm list are both restricted, so a batch costs its firms'
    events, not the city's.

    Invariant: every row equals `evaluate(<that firm's effective events>, as_of, rules)` in score, grade,
    ','.join(triggers), red_eligible (a real boolean: TRUE/FALSE on PostgreSQL, 1/0 on SQLite) and
    ','.join(red_basis); and credit.rules.validity's `valid_until` (VALID_FOREVER for None) and
    `last_negative_on` of those events — when the firm has no effective event after `as_of` (the
    caller's to check: the pass reads only events up to `as_of`)."""
    params = _Params.build(rules, as_of, firms)
    totals = _firm_totals(rules, params)
    graded = select(
        totals.c.firm_id,
        totals.c.score,
        _grade(totals, rules, params).label("grade"),
        _triggers_text(totals, rules).label("triggers"),
        totals.c.latest_negative,
        totals.c.passes,
        totals.c.honour,
        totals.c.valid_until,
    ).subquery("graded")
    return select(
        graded.c.firm_id,
        graded.c.score,
        graded.c.grade,
        graded.c.triggers,
        _red_eligible(graded, params, rules).label("red_eligible"),
        _red_basis(graded, params, rules).label("red_basis"),
        graded.c.valid_until,
        graded.c.latest_negative.label("last_negative_on"),
    )


def negative_event_sql(rules: RuleSet) -> ColumnElement[bool]:
    """The `credit_event` row is a negative event (SPEC §2: a type whose rule has negative points), as the
    per-firm path decides with `rules.rule_for(type, severity).points < 0`."""
    return _matches(rules, [r for r in rules.points.values() if r.points < 0])


def explain_sql(rules: RuleSet, as_of: date, dialect_name: str) -> str:
    """The statement of `assessment_query` as SQL text for one dialect ("sqlite", "postgresql"), with the
    dates written in, for docs and debugging."""
    dialect = registry.load(dialect_name)(paramstyle="named")  # no %-escaping in the text
    compiled = assessment_query(rules, as_of).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return str(compiled)
