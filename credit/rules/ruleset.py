"""A rule set as data: read from TOML or JSON, checked, and held in frozen dataclasses.

The default lives in `default_ruleset.toml`; the database keeps numbered versions of the same document
(credit.models.ruleset). Nothing here knows about versions' storage."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from credit.catalog import EVENT_TYPES

DEFAULT_PATH = Path(__file__).with_name("default_ruleset.toml")
PURPOSES = ("permit", "procurement", "bidding", "land", "award", "funding", "financing")
PURPOSE_LABELS = {
    "permit": "行政许可",
    "procurement": "政府采购",
    "bidding": "招投标",
    "land": "国有土地出让",
    "award": "表彰评优",
    "funding": "资金扶持",
    "financing": "融资授信",
}
MEASURE_CONDITIONS = ("black", "red", "grade_C", "black_or_negative")


class RuleSetError(ValueError):
    """A rule-set document that cannot be used; the message names the place and the problem."""


@dataclass(frozen=True)
class PointRule:
    """Points of one event type (and severity) and how long they count."""

    event_type: str
    severity: str | None
    points: int
    months: int | None = None  # None for state types
    until_valid: bool = False
    state: str | None = None  # "start" | "end" for a pair like 首席质量官 任命/离任


@dataclass(frozen=True)
class Grade:
    grade: str
    label: str
    min_score: int
    no_negative_months: int | None = None


@dataclass(frozen=True)
class Trigger:
    code: str
    label: str
    types: tuple[str, ...]
    severities: tuple[str, ...]
    months: int
    min_count: int


@dataclass(frozen=True)
class RedCriteria:
    grade: str
    no_negative_months: int
    honours: tuple[str, ...]
    passes_type: str
    passes_months: int
    passes_min: int
    list_months: int


@dataclass(frozen=True)
class BlackListing:
    objection_working_days: int  # official working days after service of the notice (credit.rules.calendar)
    list_months: int
    repair_min_months: int
    public_notice_days: int = 30  # 公告送达: served this many days after the public notice


@dataclass(frozen=True)
class InternalControl:
    """Internal control of the due process (内部控制). `separation_of_duties`: whoever approved a case's
    triggering record may not decide its black listing nor register the firm's waiver, and whoever decided
    a listing may not decide an objection or credit-repair application against it (credit.rules.duties)."""

    separation_of_duties: bool = True


@dataclass(frozen=True)
class Measure:
    code: str
    when: str
    purposes: tuple[str, ...]
    text: str
    basis: str
    negative_months: int = 36


@dataclass(frozen=True)
class PublicRules:
    penalty_months: int
    penalty_small_months: int
    penalty_small_below: int
    spot_check_fail_months: int
    publish_grades: bool
    shown_while_counting: tuple[str, ...] = ()  # honours shown on the public page while they count


ANNOUNCEMENT_ROLES = ("producer", "commissioner", "importer", "distributor")
SELLER_RECORD_CODES = ("seller_at_fault", "no_producer")


@dataclass(frozen=True)
class AnnouncementRules:
    """Spot-check announcements: whose file a result goes on and which failed items are serious."""

    record_roles: tuple[str, ...] = ("producer",)
    seller_records: tuple[str, ...] = ()
    seller_fault_markers: tuple[str, ...] = ()
    serious_items: tuple[str, ...] = ()
    candidate_count: int = 3
    candidate_min_score: int = 70
    branch_penalty: int = 15
    address_weight: float = 0.0


STATISTICS_FIGURES = ("pass_rate", "grades", "lists", "cqo", "warnings")


@dataclass(frozen=True)
class StatisticsRules:
    """The `[statistics]` section: what a spot check is, the targets the dashboard measures against and
    the thresholds of the 红黄牌警示 (docs/supervision.md)."""

    pass_types: tuple[str, ...] = ("spot_check_pass",)
    fail_types: tuple[str, ...] = ("spot_check_fail",)
    pass_rate_target: float = 0.94
    cqo_target: float = 0.6
    cqo_scale: str = "规上"
    warning_months: int = 12
    yellow_ratio: float = 1.5
    red_ratio: float = 2.0
    warning_min_checks: int = 20
    trend_months: int = 12
    trend_years: int = 5
    public_figures: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanRules:
    """双随机 plans: the share of each grade's firms drawn (0–1) and the inspectors drawn per firm."""

    rates: dict[str, float]
    inspectors_per_firm: int = 2


@dataclass(frozen=True)
class HonourRoll:
    """One honour roll: firms whose every effective spot check of the last `years` years passed."""

    code: str
    label: str
    years: int
    min_checks: int = 1


@dataclass(frozen=True)
class HonourRules:
    """The `[honour_rolls]` section: the rolls, longest first, which types are spot checks and which passes."""

    rolls: tuple[HonourRoll, ...] = ()
    pass_type: str = "spot_check_pass"  # noqa: S105 - an event type, not a password
    check_types: tuple[str, ...] = ("spot_check_pass", "spot_check_fail", "spot_check_refused")
    publish: bool = False


@dataclass(frozen=True)
class RuleSet:
    """One version of the rules. `version` is 0 for a document not yet stored."""

    name: str
    base_score: int
    positive_cap: int
    points: dict[tuple[str, str | None], PointRule]
    caps: dict[str, int]
    grades: tuple[Grade, ...]
    triggers: tuple[Trigger, ...]
    black: BlackListing
    red: RedCriteria
    measures: tuple[Measure, ...]
    public: PublicRules
    supervision: dict[str, float]
    document: dict[str, Any] = field(compare=False, repr=False)
    version: int = 0
    announcements: AnnouncementRules = field(default_factory=lambda: AnnouncementRules(), compare=False)
    control: InternalControl = field(default_factory=InternalControl)
    statistics: StatisticsRules = field(default_factory=StatisticsRules, compare=False)
    plan: PlanRules = field(default_factory=lambda: PlanRules(rates={"A": 0.03, "B": 0.1, "C": 0.4, "D": 1.0}))
    honour: HonourRules = field(default_factory=HonourRules)

    def rule_for(self, event_type: str, severity: str | None) -> PointRule | None:
        """The point rule of an event: by type and severity, or by type alone."""
        return self.points.get((event_type, severity)) or self.points.get((event_type, None))

    @property
    def negative_types(self) -> frozenset[str]:
        """Types with negative points for any severity (SPEC §2: 'negative types')."""
        return frozenset(rule.event_type for rule in self.points.values() if rule.points < 0)

    @property
    def window_months(self) -> frozenset[int]:
        """Every window length the rules use, for cut-off dates computed once per run."""
        months = {r.months for r in self.points.values() if r.months}
        months |= {t.months for t in self.triggers}
        months |= {g.no_negative_months for g in self.grades if g.no_negative_months}
        months |= {self.red.no_negative_months, self.red.passes_months}
        months |= {m.negative_months for m in self.measures if m.when == "black_or_negative"}
        return frozenset(months)

    def with_version(self, version: int) -> RuleSet:
        from dataclasses import replace

        return replace(self, version=version)


def _int(doc: dict, key: str, where: str, *, minimum: int | None = None) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RuleSetError(f"{where}.{key} 须为整数")
    if minimum is not None and value < minimum:
        raise RuleSetError(f"{where}.{key} 不能小于 {minimum}")
    return value


def _types(values: Any, where: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not values:
        raise RuleSetError(f"{where} 须为非空的事件类型列表")
    unknown = [v for v in values if v not in EVENT_TYPES]
    if unknown:
        raise RuleSetError(f"{where} 含未知事件类型:{', '.join(map(str, unknown))}")
    return tuple(values)


def _point_rule(event_type: str, severity: str | None, doc: dict, where: str) -> PointRule:
    points = _int(doc, "points", where)
    state = doc.get("state")
    if state is not None:
        if state not in ("start", "end"):
            raise RuleSetError(f"{where}.state 须为 start 或 end")
        return PointRule(event_type, severity, points, state=state)
    return PointRule(
        event_type,
        severity,
        points,
        months=_int(doc, "months", where, minimum=1),
        until_valid=bool(doc.get("until_valid")),
    )


def parse_ruleset(document: dict[str, Any], *, version: int = 0) -> RuleSet:
    """Check a rule-set document and build the RuleSet; raises RuleSetError naming the first problem."""
    if not isinstance(document, dict):
        raise RuleSetError("规则集须为一个对象")
    events = document.get("events")
    if not isinstance(events, dict):
        raise RuleSetError("缺少 events")
    points: dict[tuple[str, str | None], PointRule] = {}
    caps: dict[str, int] = {}
    for code, event_type in EVENT_TYPES.items():
        entry = events.get(code)
        where = f"events.{code}"
        if not isinstance(entry, dict):
            raise RuleSetError(f"缺少 {where}")
        if event_type.severities:
            for severity in event_type.severities:
                sub = entry.get(severity)
                if not isinstance(sub, dict):
                    raise RuleSetError(f"缺少 {where}.{severity}")
                points[(code, severity)] = _point_rule(code, severity, sub, f"{where}.{severity}")
        else:
            points[(code, None)] = _point_rule(code, None, entry, where)
        if "cap" in entry:
            caps[code] = _int(entry, "cap", where)
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise RuleSetError(f"events 含未知事件类型:{', '.join(unknown)}")
    starts = [r for r in points.values() if r.state == "start"]
    ends = [r for r in points.values() if r.state == "end"]
    if len(starts) > 1 or len(ends) > 1 or len(starts) != len(ends):
        raise RuleSetError("state 类事件须成对出现(一个 start,一个 end)")

    grade_docs = document.get("grades")
    if not isinstance(grade_docs, list) or not grade_docs:
        raise RuleSetError("缺少 grades")
    grades = tuple(
        Grade(
            grade=str(g.get("grade", "")),
            label=str(g.get("label", "")),
            min_score=_int(g, "min_score", f"grades[{i}]"),
            no_negative_months=g.get("no_negative_months"),
        )
        for i, g in enumerate(grade_docs)
    )
    if [g.grade for g in grades] != ["A", "B", "C", "D"]:
        raise RuleSetError("grades 须依次为 A、B、C、D")
    if any(a.min_score <= b.min_score for a, b in pairwise(grades)):
        raise RuleSetError("grades 的 min_score 须从 A 到 D 递减")

    triggers = []
    for i, t in enumerate(document.get("black_triggers") or []):
        where = f"black_triggers[{i}]"
        types = _types(t.get("types"), f"{where}.types")
        severities = tuple(t.get("severities") or ())
        triggers.append(
            Trigger(
                code=str(t.get("code") or f"trigger_{i}"),
                label=str(t.get("label", "")),
                types=types,
                severities=severities,
                months=_int(t, "months", where, minimum=1),
                min_count=_int(t, "min_count", where, minimum=1),
            )
        )

    black_doc = document.get("black_listing") or {}
    black = BlackListing(
        objection_working_days=_int(black_doc, "objection_working_days", "black_listing", minimum=0),
        list_months=_int(black_doc, "list_months", "black_listing", minimum=1),
        repair_min_months=_int(black_doc, "repair_min_months", "black_listing", minimum=0),
        # Versions saved before the official calendar carried `holidays` here; the calendar replaced it.
        public_notice_days=_int(black_doc, "public_notice_days", "black_listing", minimum=0)
        if "public_notice_days" in black_doc
        else 30,
    )
    red_doc = document.get("red") or {}
    red = RedCriteria(
        grade=str(red_doc.get("grade", "A")),
        no_negative_months=_int(red_doc, "no_negative_months", "red", minimum=1),
        honours=_types(red_doc.get("honours"), "red.honours"),
        passes_type=_types([red_doc.get("passes_type")], "red.passes_type")[0],
        passes_months=_int(red_doc, "passes_months", "red", minimum=1),
        passes_min=_int(red_doc, "passes_min", "red", minimum=1),
        list_months=_int(red_doc, "list_months", "red", minimum=1),
    )
    measures = []
    for i, m in enumerate(document.get("measures") or []):
        where = f"measures[{i}]"
        if m.get("when") not in MEASURE_CONDITIONS:
            raise RuleSetError(f"{where}.when 须为 {', '.join(MEASURE_CONDITIONS)} 之一")
        purposes = tuple(m.get("purposes") or ())
        if not purposes or any(p not in PURPOSES for p in purposes):
            raise RuleSetError(f"{where}.purposes 须为 {', '.join(PURPOSES)} 中的一个或多个")
        measures.append(
            Measure(
                code=str(m.get("code") or f"measure_{i}"),
                when=m["when"],
                purposes=purposes,
                text=str(m.get("text", "")),
                basis=str(m.get("basis", "")),
                negative_months=int(m.get("negative_months", 36)),
            )
        )
    public_doc = document.get("public") or {}
    public = PublicRules(
        penalty_months=_int(public_doc, "penalty_months", "public", minimum=0),
        penalty_small_months=_int(public_doc, "penalty_small_months", "public", minimum=0),
        penalty_small_below=_int(public_doc, "penalty_small_below", "public", minimum=0),
        spot_check_fail_months=_int(public_doc, "spot_check_fail_months", "public", minimum=0),
        publish_grades=bool(public_doc.get("publish_grades", False)),
        # Versions saved before this setting showed the four honours of the default rule set.
        shown_while_counting=_types(public_doc["shown_while_counting"], "public.shown_while_counting")
        if "shown_while_counting" in public_doc
        else ("award_national", "award_provincial", "award_municipal", "famous_brand"),
    )
    supervision = document.get("supervision") or {}
    if set(supervision) != {"A", "B", "C", "D"} or not all(
        isinstance(v, int | float) and 0 <= v <= 1 for v in supervision.values()
    ):
        raise RuleSetError("supervision 须为 A、B、C、D 各一个 0 到 1 之间的比例")
    return RuleSet(
        announcements=parse_announcement_rules(document),
        statistics=parse_statistics_rules(document),
        control=parse_internal_control(document),
        plan=parse_plan_rules(document, supervision),
        honour=parse_honour_rules(document),
        name=str(document.get("name", "")),
        base_score=_int(document, "base_score", "规则集"),
        positive_cap=_int(document, "positive_cap", "规则集", minimum=0),
        points=points,
        caps=caps,
        grades=grades,
        triggers=tuple(triggers),
        black=black,
        red=red,
        measures=tuple(measures),
        public=public,
        supervision={k: float(v) for k, v in supervision.items()},
        document=document,
        version=version,
    )


def parse_internal_control(document: dict[str, Any]) -> InternalControl:
    """The `[internal_control]` table; versions saved before it existed keep separation of duties on."""
    doc = document.get("internal_control") or {}
    if not isinstance(doc, dict):
        raise RuleSetError("internal_control 须为一个表")
    unknown = set(doc) - {"separation_of_duties"}
    if unknown:
        raise RuleSetError(f"internal_control 中有未知的设置：{'、'.join(sorted(unknown))}")
    value = doc.get("separation_of_duties", True)
    if not isinstance(value, bool):
        raise RuleSetError("internal_control.separation_of_duties 须为 true 或 false")
    return InternalControl(separation_of_duties=value)


def parse_plan_rules(document: dict[str, Any], supervision: dict[str, Any]) -> PlanRules:
    """The `[plan]` section; a version saved before it existed draws at its `[supervision]` rates and two
    inspectors per firm. Rates are one per grade A–D, each from 0 to 1."""
    doc = document.get("plan")
    if doc is None:
        return PlanRules(rates={k: float(v) for k, v in supervision.items()})
    if not isinstance(doc, dict):
        raise RuleSetError("plan 须为一个表")
    unknown = set(doc) - {"rates", "inspectors_per_firm"}
    if unknown:
        raise RuleSetError(f"plan 中有未知的设置：{'、'.join(sorted(unknown))}")
    rates = doc.get("rates", supervision)
    if (
        not isinstance(rates, dict)
        or set(rates) != {"A", "B", "C", "D"}
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in rates.values())
    ):
        raise RuleSetError("plan.rates 须为 A、B、C、D 各一个 0 到 1 之间的比例")
    inspectors = _int({"n": doc.get("inspectors_per_firm", 2)}, "n", "plan.inspectors_per_firm", minimum=1)
    return PlanRules(rates={k: float(v) for k, v in rates.items()}, inspectors_per_firm=inspectors)


def parse_honour_rules(document: dict[str, Any]) -> HonourRules:
    """The `[honour_rolls]` section (none: no rolls); rolls are kept longest first, codes unique."""
    doc = document.get("honour_rolls")
    if doc is None:
        return HonourRules()
    if not isinstance(doc, dict):
        raise RuleSetError("honour_rolls 须为一个表")
    unknown = set(doc) - {"publish", "pass_type", "check_types", "rolls"}
    if unknown:
        raise RuleSetError(f"honour_rolls 中有未知的设置：{'、'.join(sorted(unknown))}")
    publish = doc.get("publish", False)
    if not isinstance(publish, bool):
        raise RuleSetError("honour_rolls.publish 须为 true 或 false")
    check_types = _types(doc.get("check_types", list(HonourRules.check_types)), "honour_rolls.check_types")
    pass_type = str(doc.get("pass_type", "spot_check_pass"))
    if pass_type not in check_types:
        raise RuleSetError("honour_rolls.pass_type 须为 check_types 之一")
    rolls = []
    for i, roll in enumerate(doc.get("rolls") or []):
        where = f"honour_rolls.rolls[{i}]"
        if not isinstance(roll, dict) or not str(roll.get("code") or "").strip() or not str(roll.get("label") or ""):
            raise RuleSetError(f"{where} 须有 code 与 label")
        rolls.append(
            HonourRoll(
                code=str(roll["code"]).strip(),
                label=str(roll["label"]),
                years=_int(roll, "years", where, minimum=1),
                min_checks=_int({"min_checks": roll.get("min_checks", 1)}, "min_checks", where, minimum=1),
            )
        )
    if len({r.code for r in rolls}) != len(rolls):
        raise RuleSetError("honour_rolls.rolls 的 code 不能重复")
    if len({r.years for r in rolls}) != len(rolls):
        raise RuleSetError("honour_rolls.rolls 的 years 不能重复")
    rolls.sort(key=lambda r: -r.years)
    return HonourRules(rolls=tuple(rolls), pass_type=pass_type, check_types=check_types, publish=publish)


def _texts(values: Any, where: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise RuleSetError(f"{where} 须为由非空文字组成的列表")
    if allowed is not None and (unknown := [v for v in values if v not in allowed]):
        raise RuleSetError(f"{where} 含未知取值：{'、'.join(unknown)}；可用：{'、'.join(allowed)}")
    return tuple(v.strip() for v in values)


def parse_announcement_rules(document: dict[str, Any]) -> AnnouncementRules:
    """The [announcements] section; a version saved before it existed takes the default file's."""
    section = document.get("announcements")
    if section is None:
        section = _default_announcements()
    if not isinstance(section, dict):
        raise RuleSetError("announcements 须为一个表")
    where = "announcements"
    rules = AnnouncementRules(
        record_roles=_texts(section.get("record_roles"), f"{where}.record_roles", ANNOUNCEMENT_ROLES),
        seller_records=_texts(section.get("seller_records", []), f"{where}.seller_records", SELLER_RECORD_CODES),
        seller_fault_markers=_texts(section.get("seller_fault_markers", []), f"{where}.seller_fault_markers"),
        serious_items=_texts(section.get("serious_items"), f"{where}.serious_items"),
        candidate_count=_int(section, "candidate_count", where, minimum=1),
        candidate_min_score=_int(section, "candidate_min_score", where, minimum=0),
        branch_penalty=_int(section, "branch_penalty", where, minimum=0),
        address_weight=float(section.get("address_weight", 0)),
    )
    if not 0 <= rules.address_weight <= 1:
        raise RuleSetError(f"{where}.address_weight 须在 0 到 1 之间")
    if not rules.record_roles:
        raise RuleSetError(f"{where}.record_roles 不能为空")
    if not rules.serious_items:
        raise RuleSetError(f"{where}.serious_items 不能为空")
    return rules


def _ratio(section: dict, key: str, where: str, *, upper: float | None = 1.0) -> float:
    value = section.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise RuleSetError(f"{where}.{key} 须为不小于 0 的数")
    if upper is not None and value > upper:
        raise RuleSetError(f"{where}.{key} 须在 0 到 {upper:g} 之间")
    return float(value)


def parse_statistics_rules(document: dict[str, Any]) -> StatisticsRules:
    """The `[statistics]` section; a version saved before it existed takes the default file's. Checks that
    pass and fail types are disjoint and that the red threshold is at least the yellow one."""
    section = document.get("statistics")
    if section is None:
        section = _default_section("statistics")
    if not isinstance(section, dict):
        raise RuleSetError("statistics 须为一个表")
    where = "statistics"
    known = set(StatisticsRules.__dataclass_fields__)
    unknown = set(section) - known
    if unknown:
        raise RuleSetError(f"statistics 中有未知的设置：{'、'.join(sorted(unknown))}")
    rules = StatisticsRules(
        pass_types=_types(section.get("pass_types"), f"{where}.pass_types"),
        fail_types=_types(section.get("fail_types"), f"{where}.fail_types"),
        pass_rate_target=_ratio(section, "pass_rate_target", where),
        cqo_target=_ratio(section, "cqo_target", where),
        cqo_scale=_texts([section.get("cqo_scale")], f"{where}.cqo_scale", ("规上", "规下"))[0],
        warning_months=_int(section, "warning_months", where, minimum=1),
        yellow_ratio=_ratio(section, "yellow_ratio", where, upper=None),
        red_ratio=_ratio(section, "red_ratio", where, upper=None),
        warning_min_checks=_int(section, "warning_min_checks", where, minimum=1),
        trend_months=_int(section, "trend_months", where, minimum=1),
        trend_years=_int(section, "trend_years", where, minimum=1),
        public_figures=_texts(section.get("public_figures", []), f"{where}.public_figures", STATISTICS_FIGURES),
    )
    if set(rules.pass_types) & set(rules.fail_types):
        raise RuleSetError(f"{where}.pass_types 与 fail_types 不能有相同的事件类型")
    if rules.yellow_ratio <= 1 or rules.red_ratio < rules.yellow_ratio:
        raise RuleSetError(f"{where}: 须 1 < yellow_ratio ≤ red_ratio")
    if rules.trend_months > 120 or rules.trend_years > 30:
        raise RuleSetError(f"{where}: trend_months 不能大于 120,trend_years 不能大于 30")
    return rules


_DEFAULT_SECTIONS: dict[str, Any] = {}


def _default_section(name: str) -> Any:
    if name not in _DEFAULT_SECTIONS:
        _DEFAULT_SECTIONS[name] = tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))[name]
    return _DEFAULT_SECTIONS[name]


_DEFAULT_ANNOUNCEMENTS: dict[str, Any] | None = None


def _default_announcements() -> dict[str, Any]:
    global _DEFAULT_ANNOUNCEMENTS
    if _DEFAULT_ANNOUNCEMENTS is None:
        _DEFAULT_ANNOUNCEMENTS = tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))["announcements"]
    return _DEFAULT_ANNOUNCEMENTS


def load_document(text: str) -> dict[str, Any]:
    """A rule-set document from TOML or JSON text."""
    stripped = text.lstrip()
    try:
        return json.loads(text) if stripped.startswith("{") else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RuleSetError(f"无法解析规则集:{exc}") from None


def default_document() -> dict[str, Any]:
    """The default rule set of the repository, as a document."""
    return load_document(DEFAULT_PATH.read_text(encoding="utf-8"))


def default_ruleset() -> RuleSet:
    return parse_ruleset(default_document())
