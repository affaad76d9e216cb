"""双随机 supervision plans (SPEC §2 "Supervision plan"): which firms to inspect next and who inspects them.

A plan is drawn from recorded inputs only — the seed, the as-of date, the region and industry filters,
the rule set, the firms' grades as of the date, the active inspector roster and the inspections of
earlier plans — so anyone can re-derive it (`verify_plan`) and get the same firms and inspectors:

* firms: per grade, the eligible firms in USCC order; `round(eligible × rate)` of them (half up, from the
  rate's decimal text, so 100 × 0.03 is 3, not 4) are drawn with `random.Random("<seed>|<grade>")`
  (Python's string seeding is SHA-512 of the text: the same on every run and machine; never `hash()`).
  A rate of 1 takes every firm, so every D firm is in a default plan.
* inspectors: `inspectors_per_firm` distinct active inspectors per firm, drawn with
  `random.Random("<seed>|inspectors")` over the roster in certificate-number order, leaving out who
  inspected the firm in its last plan (国办发〔2015〕58号: rotation of inspectors).

Plans and their firms are append-only; the audit head and fingerprints of every input are stored with them."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Any

from sqlalchemy import and_, insert, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from credit.clock import check_not_future, today
from credit.models import AuditEntry, Firm, FirmAssessment, Inspector, PlanFirm, SupervisionPlan, utcnow
from credit.reference import REGIONS, validate_industry
from credit.rules.ruleset import RuleSet
from credit.rules.sql import assessment_query
from credit.services.rulesets import active_ruleset, get_version, ruleset_of
from credit.services.tabular import DEFAULT_LIMITS, ImportFileError, ReadLimits, RowError, read_table
from credit.text import refuse_control_characters

GRADES = ("A", "B", "C", "D")
INSERT_CHUNK = 5000


class PlanError(ValueError):
    """A plan that cannot be drawn (bad filter, future date, roster too small); nothing was written."""


@dataclass(frozen=True)
class PlanRequest:
    """What a plan is drawn from, besides the data: the seed and the filters."""

    seed: str
    as_of: date
    region: str = ""
    industry: str = ""


@dataclass
class DrawnFirm:
    firm_id: int
    uscc: str
    name: str
    region: str
    industry: str
    grade: str
    inspectors: list[str] = field(default_factory=list)  # certificate numbers, in draw order


@dataclass
class DerivedPlan:
    """A plan as derived, before (or without) storing it."""

    request: PlanRequest
    rule_set_version: int
    rates: dict[str, float]
    inspectors_per_firm: int
    grades: dict[str, dict[str, int]]
    firms: list[DrawnFirm]
    firms_digest: str
    roster_digest: str
    history_digest: str
    digest: str


def check_request(seed: str, as_of: date | None, region: str = "", industry: str = "") -> PlanRequest:
    """A validated request: a non-empty seed of at most 100 characters, a date not after today, a region of
    the city's register and a GB/T 4754 industry code (a 门类 letter matches all its 大类)."""
    seed = refuse_control_characters(str(seed or "")).strip()
    if not seed:
        raise PlanError("随机种子不能为空")
    if len(seed) > 100:
        raise PlanError("随机种子不能超过 100 个字符")
    day = check_not_future(as_of or today(), field="抽查基准日")
    region = (region or "").strip()
    if region and region not in REGIONS:
        raise PlanError(f"所属镇街「{region}」不在本市区划名录中")
    industry = (industry or "").strip()
    if industry:
        try:
            industry = validate_industry(industry)
        except ValueError as exc:
            raise PlanError(str(exc)) from None
    return PlanRequest(seed=seed, as_of=day, region=region, industry=industry)


def chosen_count(eligible: int, rate: float) -> int:
    """How many of `eligible` firms a grade's `rate` draws: eligible × rate rounded half up from the rate's
    decimal text (so it is within one half of the product, and exactly `eligible` at rate 1)."""
    product = Decimal(str(rate)) * eligible
    return min(eligible, int(product.to_integral_value(rounding=ROUND_HALF_UP)))


def _scope(request: PlanRequest):
    """The firms the filters admit, as WHERE clauses on `firm`."""
    where = []
    if request.region:
        where.append(Firm.region == request.region)
    if request.industry:
        if len(request.industry) == 1:
            where.append(col(Firm.industry).startswith(request.industry, autoescape=True))
        else:
            where.append(Firm.industry == request.industry)
    return where


def graded_firms_query(request: PlanRequest, rules: RuleSet):
    """(firm_id, uscc, name, region, industry, grade) of every firm the filters admit, as of the request's
    date, in USCC order. The grade is the stored assessment where it is valid on that date under this rule
    set (`as_of <= date < valid_until`, credit.models.assessment); for any other firm, the same SQL
    evaluator the nightly assessment stores (credit.rules.sql.assessment_query) as of the date."""
    day = request.as_of
    stored = FirmAssessment.__table__  # type: ignore[attr-defined]
    covered_where = and_(
        stored.c.rule_set_version == rules.version,
        stored.c.as_of <= day,
        stored.c.valid_until.is_not(None),
        stored.c.valid_until > day,
    )
    covered = sa_select(stored.c.firm_id, stored.c.grade).where(covered_where)
    scope = _scope(request)
    others = sa_select(Firm.id).where(*scope, col(Firm.id).not_in(sa_select(stored.c.firm_id).where(covered_where)))
    live = assessment_query(rules, day, firms=others).subquery("live")
    grades = union_all(covered, sa_select(live.c.firm_id, live.c.grade)).subquery("graded")
    return (
        sa_select(Firm.id, Firm.uscc, Firm.name, Firm.region, Firm.industry, grades.c.grade)
        .join(grades, grades.c.firm_id == Firm.id)
        .where(*scope)
        .order_by(Firm.uscc)
    )


def _sha(lines) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()


def _roster(session: Session) -> list[Inspector]:
    return list(session.exec(select(Inspector).where(col(Inspector.active).is_(True)).order_by(Inspector.code)).all())


def _last_inspectors(session: Session, *, before: int | None) -> dict[int, str]:
    """firm_id -> the inspectors (comma-separated) of the firm's newest plan before plan `before` (all
    plans when None): one set-based query over the plans' firms, no list of ids."""
    firm = PlanFirm.__table__.alias("pf")  # type: ignore[attr-defined]
    newer = PlanFirm.__table__.alias("newer")  # type: ignore[attr-defined]
    bound = [] if before is None else [firm.c.plan_id < before]
    newer_bound = [] if before is None else [newer.c.plan_id < before]
    latest = (
        sa_select(func.max(newer.c.plan_id)).where(newer.c.firm_id == firm.c.firm_id, *newer_bound).scalar_subquery()
    )
    rows = session.execute(sa_select(firm.c.firm_id, firm.c.inspectors).where(*bound, firm.c.plan_id == latest))
    return dict(rows.tuples().all())


def derive_plan(
    session: Session, request: PlanRequest, *, rules: RuleSet | None = None, before: int | None = None
) -> DerivedPlan:
    """Draw a plan from the data as it stands (nothing is written). `before`: re-derive as plan `before`
    was drawn, seeing only the inspections of earlier plans.

    Invariants: per grade, chosen = round(eligible × rate) (within one of the product); a rate of 1 takes
    every eligible firm; each firm gets `inspectors_per_firm` distinct inspectors, none of them one who
    inspected it in its last plan; the same inputs give the same result."""
    rules = rules or active_ruleset(session)
    rates = dict(rules.plan.rates)
    per_firm = rules.plan.inspectors_per_firm
    by_grade: dict[str, list[tuple]] = defaultdict(list)
    lines = []
    # Core rows over the session's connection: no ORM loading per row (100k rows at city scale).
    for row in session.connection().execute(graded_firms_query(request, rules)).tuples():
        by_grade[row[5]].append(row)
        lines.append(f"{row[1]}:{row[5]}")
    firms_digest = _sha(lines)
    del lines
    grades: dict[str, dict[str, int]] = {}
    chosen: list[DrawnFirm] = []
    for grade in GRADES:
        pool = by_grade.get(grade, [])
        count = chosen_count(len(pool), rates.get(grade, 0.0))
        grades[grade] = {"eligible": len(pool), "chosen": count}
        picks = random.Random(f"{request.seed}|{grade}").sample(  # noqa: S311 - reproducible by design, not secret
            range(len(pool)), count
        )
        chosen += [DrawnFirm(*pool[i]) for i in picks]
    chosen.sort(key=lambda f: f.uscc)

    roster = [i.code for i in _roster(session)]
    roster_digest = _sha(roster)
    if chosen and len(roster) < per_firm:
        raise PlanError(f"检查人员名录只有 {len(roster)} 名在岗人员,每户须抽取 {per_firm} 名:请先补充名录")
    last = _last_inspectors(session, before=before) if chosen else {}
    history = []
    draw = random.Random(f"{request.seed}|inspectors")  # noqa: S311 - reproducible by design
    for firm in chosen:
        previous = set(filter(None, last.get(firm.firm_id, "").split(",")))
        if previous:
            history.append(f"{firm.uscc}:{','.join(sorted(previous))}")
        candidates = [code for code in roster if code not in previous] if previous else roster
        if len(candidates) < per_firm:
            raise PlanError(
                f"企业 {firm.uscc} 上次的检查人员回避后,在岗检查人员只剩 {len(candidates)} 名,"
                f"不足每户 {per_firm} 名:请先补充检查人员名录"
            )
        firm.inspectors = draw.sample(candidates, per_firm)
    digest = _sha(f"{f.uscc}|{f.grade}|{','.join(f.inspectors)}" for f in chosen)
    return DerivedPlan(
        request=request,
        rule_set_version=rules.version,
        rates=rates,
        inspectors_per_firm=per_firm,
        grades=grades,
        firms=chosen,
        firms_digest=firms_digest,
        roster_digest=roster_digest,
        history_digest=_sha(history),
        digest=digest,
    )


def _same_inputs(request: PlanRequest, rules: RuleSet):
    return select(SupervisionPlan).where(
        SupervisionPlan.seed == request.seed,
        SupervisionPlan.as_of == request.as_of,
        SupervisionPlan.region == request.region,
        SupervisionPlan.industry == request.industry,
        SupervisionPlan.rule_set_version == rules.version,
    )


def _matches(plan: SupervisionPlan, derived: DerivedPlan) -> bool:
    return (
        plan.digest == derived.digest
        and plan.firms_digest == derived.firms_digest
        and plan.roster_digest == derived.roster_digest
        and plan.history_digest == derived.history_digest
    )


def make_plan(session: Session, request: PlanRequest, *, created_by: str) -> tuple[SupervisionPlan, bool]:
    """Draw and store a plan; (plan, created). Idempotent per data: when the newest stored plan of the same
    seed, date, filters and rule set re-derives to itself, that plan is returned and nothing is written
    (so the same seed on the same data gives the same plan, not a second draw that avoids the first's
    inspectors). Flushes; the caller commits."""
    rules = active_ruleset(session)
    existing = session.exec(_same_inputs(request, rules).order_by(col(SupervisionPlan.id).desc()).limit(1)).first()
    if existing is not None and _matches(existing, derive_plan(session, request, rules=rules, before=existing.id)):
        return existing, False
    derived = derive_plan(session, request, rules=rules)
    head = session.exec(select(func.max(AuditEntry.id))).one()
    plan = SupervisionPlan(
        seed=request.seed,
        as_of=request.as_of,
        region=request.region,
        industry=request.industry,
        rule_set_version=derived.rule_set_version,
        rates=derived.rates,
        inspectors_per_firm=derived.inspectors_per_firm,
        grades=derived.grades,
        firm_count=len(derived.firms),
        firms_digest=derived.firms_digest,
        roster_digest=derived.roster_digest,
        history_digest=derived.history_digest,
        audit_entry_id=head,
        digest=derived.digest,
        created_by=created_by[:120],
    )
    session.add(plan)
    session.flush()  # the plan's id, and its audit entry (the ORM hooks)
    rows = [
        {
            "plan_id": plan.id,
            "position": position,
            "firm_id": f.firm_id,
            "uscc": f.uscc,
            "name": f.name,
            "region": f.region,
            "industry": f.industry,
            "grade": f.grade,
            "inspectors": ",".join(f.inspectors),
        }
        for position, f in enumerate(derived.firms, start=1)
    ]
    # The firms as one set-based write in chunks (no ORM object per row); the plan's audit entry names
    # their count and digest.
    for start in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert(PlanFirm), rows[start : start + INSERT_CHUNK])
    session.flush()
    return plan, True


@dataclass
class PlanCheck:
    """What re-deriving a stored plan found: `ok` when the same firms and inspectors came out."""

    plan_id: int
    ok: bool
    problems: list[str]


def verify_plan(session: Session, plan_id: int) -> PlanCheck:
    """Re-derive plan `plan_id` from its recorded seed, date and filters, seeing only earlier plans'
    inspections, and compare with what was stored (firms, grades, inspectors and every fingerprint)."""
    plan = session.get(SupervisionPlan, plan_id)
    if plan is None:
        raise PlanError(f"没有编号为 {plan_id} 的抽查计划")
    rules = active_ruleset(session)
    problems = []
    if rules.version != plan.rule_set_version:
        row = get_version(session, plan.rule_set_version)
        if row is None:
            return PlanCheck(plan.id, False, [f"规则集第 {plan.rule_set_version} 版不存在"])  # type: ignore[arg-type]
        rules = ruleset_of(row)
    request = PlanRequest(seed=plan.seed, as_of=plan.as_of, region=plan.region, industry=plan.industry)
    try:
        derived = derive_plan(session, request, rules=rules, before=plan.id)
    except PlanError as exc:
        return PlanCheck(plan_id, False, [str(exc)])
    if derived.firms_digest != plan.firms_digest:
        problems.append("企业评价等级与抽取时不同(数据已变化)")
    if derived.roster_digest != plan.roster_digest:
        problems.append("在岗检查人员名录与抽取时不同")
    if derived.history_digest != plan.history_digest:
        problems.append("以往计划的检查人员与抽取时不同")
    stored = [
        f"{r.uscc}|{r.grade}|{r.inspectors}"
        for r in session.exec(
            select(PlanFirm.uscc, PlanFirm.grade, PlanFirm.inspectors)
            .where(PlanFirm.plan_id == plan.id)
            .order_by(PlanFirm.position)
        )
    ]
    if _sha(stored) != plan.digest:
        problems.append("已存的计划企业与计划摘要不符")
    if derived.digest != plan.digest:
        problems.append("重新抽取的企业或检查人员与已存的计划不同")
    if derived.grades != plan.grades:
        problems.append("各等级的应抽、抽中户数与已存的计划不同")
    return PlanCheck(plan.id, not problems, problems)  # type: ignore[arg-type]


def plan_document(session: Session, plan: SupervisionPlan) -> dict[str, Any]:
    """The plan as the CLI's and the API's JSON: the request, per grade `eligible`/`chosen`, and the firms
    with their inspectors (certificate number and name)."""
    names = dict(session.exec(select(Inspector.code, Inspector.name)).all())
    firms = [
        {
            "uscc": r.uscc,
            "name": r.name,
            "region": r.region,
            "industry": r.industry,
            "grade": r.grade,
            "inspectors": [{"code": c, "name": names.get(c, "")} for c in r.inspectors.split(",") if c],
        }
        for r in session.exec(select(PlanFirm).where(PlanFirm.plan_id == plan.id).order_by(PlanFirm.position))
    ]
    return {
        "plan": {
            "id": plan.id,
            "seed": plan.seed,
            "as_of": plan.as_of.isoformat(),
            "region": plan.region,
            "industry": plan.industry,
            "rule_set_version": plan.rule_set_version,
            "rates": plan.rates,
            "inspectors_per_firm": plan.inspectors_per_firm,
            "digest": plan.digest,
            "data_version": {
                "firms": plan.firms_digest,
                "roster": plan.roster_digest,
                "history": plan.history_digest,
                "audit_entry_id": plan.audit_entry_id,
            },
            "created_at": plan.created_at.isoformat(),
            "created_by": plan.created_by,
        },
        "grades": plan.grades,
        "firms": firms,
    }


PLAN_HEADER = ("序号", "统一社会信用代码", "企业名称", "所属镇街", "行业", "信用等级", "检查人员", "执法证号")


def plan_rows(session: Session, plan: SupervisionPlan, *, chunk: int = 2000):
    """The plan's rows for field teams, read in pages by position (bounded memory)."""
    names = dict(session.exec(select(Inspector.code, Inspector.name)).all())
    after = 0
    while True:
        rows = session.exec(
            select(PlanFirm)
            .where(PlanFirm.plan_id == plan.id, PlanFirm.position > after)
            .order_by(PlanFirm.position)
            .limit(chunk)
        ).all()
        if not rows:
            return
        for r in rows:
            codes = [c for c in r.inspectors.split(",") if c]
            yield (
                r.position,
                r.uscc,
                r.name,
                r.region,
                r.industry,
                r.grade,
                "、".join(names.get(c, c) for c in codes),
                "、".join(codes),
            )
        after = rows[-1].position


def plan_xlsx(session: Session, plan: SupervisionPlan) -> bytes:
    """The plan as an XLSX workbook (openpyxl write-only, formula-safe cells), USCCs as text."""
    from credit.services.spreadsheet import xlsx_bytes

    return xlsx_bytes([(f"抽查计划{plan.id}", PLAN_HEADER, plan_rows(session, plan))], text_columns=frozenset({1, 7}))


def list_plans(session: Session, *, page: int = 1, per_page: int = 50) -> list[SupervisionPlan]:
    """Stored plans, newest first, one page."""
    offset = (max(page, 1) - 1) * per_page
    return list(
        session.exec(select(SupervisionPlan).order_by(col(SupervisionPlan.id).desc()).offset(offset).limit(per_page))
    )


def plan_firm_page(session: Session, plan_id: int, *, page: int = 1, per_page: int = 100) -> list[PlanFirm]:
    offset = (max(page, 1) - 1) * per_page
    return list(
        session.exec(
            select(PlanFirm)
            .where(PlanFirm.plan_id == plan_id)
            .order_by(PlanFirm.position)
            .offset(offset)
            .limit(per_page)
        )
    )


# The inspector roster ------------------------------------------------------------------------------------

ROSTER_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("执法证号", "证号", "编号"),
    "name": ("姓名", "检查人员"),
    "unit": ("所属单位", "单位", "科室"),
    "active": ("在岗", "状态"),
}
_ACTIVE = {"": True, "1": True, "true": True, "yes": True, "是": True, "在岗": True}
_INACTIVE = {"0": False, "false": False, "no": False, "否": False, "离岗": False, "停用": False}


@dataclass
class RosterReport:
    """What a roster import did, or every bad row (then it changed nothing)."""

    rows: int = 0
    added: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _roster_row(number: int, row: dict[str, str]) -> tuple[dict[str, Any] | None, list[RowError]]:
    problems = []
    code = row.get("code", "").strip()
    name = " ".join(row.get("name", "").split())
    unit = " ".join(row.get("unit", "").split())
    state = row.get("active", "").strip().lower()
    if not code or len(code) > 30 or not code.isprintable():
        problems.append(RowError(number, "code", "执法证号须为 1 至 30 个可打印字符"))
    if not name or len(name) > 50 or not name.isprintable():
        problems.append(RowError(number, "name", "姓名须为 1 至 50 个可打印字符"))
    if len(unit) > 100 or not unit.isprintable():
        problems.append(RowError(number, "unit", "所属单位不能超过 100 个字符"))
    if state not in _ACTIVE and state not in _INACTIVE:
        problems.append(RowError(number, "active", "在岗须为 是/否、1/0 或留空(在岗)"))
    if problems:
        return None, problems
    return {"code": code, "name": name, "unit": unit, "active": _ACTIVE.get(state, False)}, []


def import_roster(
    session: Session, source: str | bytes | IO[bytes], *, filename: str = "", limits: ReadLimits = DEFAULT_LIMITS
) -> RosterReport:
    """Import the inspector roster from CSV/XLSX (code, name, unit, active): all or nothing; new codes
    added, known ones updated where they changed, so re-importing a file changes nothing. Nobody is
    deleted (past plans name them): an inspector leaves by `active = 否`. Flushes; the caller commits."""
    report = RosterReport()
    valid: dict[str, dict[str, Any]] = {}
    try:
        for number, row in read_table(
            source, ROSTER_COLUMNS, required=("code", "name"), filename=filename, limits=limits
        ):
            report.rows += 1
            values, problems = _roster_row(number, row)
            if values and values["code"] in valid:
                problems.append(RowError(number, "code", f"执法证号 {values['code']} 在文件中重复"))
            report.errors += problems
            if values and not problems:
                valid[values["code"]] = values
    except ImportFileError as exc:
        return RosterReport(errors=exc.errors)
    if not report.ok:
        return report
    known = {i.code: i for i in session.exec(select(Inspector)).all()}  # a roster is hundreds, not millions
    for code, values in valid.items():
        inspector = known.get(code)
        if inspector is None:
            session.add(Inspector(**values))
            report.added += 1
        elif any(getattr(inspector, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(inspector, k, v)
            inspector.updated_at = utcnow()
            session.add(inspector)
            report.updated += 1
    session.flush()
    return report


def set_inspector_active(session: Session, code: str, active: bool) -> Inspector:
    """Put an inspector on or off duty (audited); refuses an unknown certificate number."""
    inspector = session.exec(select(Inspector).where(Inspector.code == code)).first()
    if inspector is None:
        raise PlanError(f"名录中没有执法证号 {code}")
    if inspector.active != active:
        inspector.active = active
        inspector.updated_at = utcnow()
        session.add(inspector)
        session.flush()
    return inspector


def list_inspectors(session: Session, *, page: int = 1, per_page: int = 100) -> tuple[list[Inspector], int]:
    """One page of the roster in certificate-number order, and how many are on duty."""
    offset = (max(page, 1) - 1) * per_page
    rows = list(session.exec(select(Inspector).order_by(Inspector.code).offset(offset).limit(per_page)))
    active = session.exec(select(func.count()).select_from(Inspector).where(col(Inspector.active).is_(True))).one()
    return rows, active


def as_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2)
