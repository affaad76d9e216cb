"""双随机 plans: reproducible from the seed, per-grade bounds, every D firm, inspectors drawn from the
roster with rotation, stored append-only, re-derived and compared; the CLI contract; roster import."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import func, select

from credit.models import FirmAssessment, Inspector, PlanFirm, SupervisionPlan
from credit.models.assessment import VALID_FOREVER
from credit.services.events import approve_event, record_event
from credit.services.plans import (
    PlanError,
    check_request,
    chosen_count,
    derive_plan,
    import_roster,
    make_plan,
    plan_xlsx,
    verify_plan,
)
from credit.services.rulesets import active_ruleset, ensure_default_ruleset
from tests.factories import make_firm, make_user

GRADES = "ABCD"


def roster_csv(n: int, start: int = 1) -> bytes:
    lines = ["执法证号,姓名,所属单位"] + [f"ZF{i:04d},检查员{i},稽查科" for i in range(start, start + n)]
    return ("\n".join(lines) + "\n").encode()


def grade_firms(s, grades: str, **kw) -> list:
    """Firms with a stored assessment of each grade in `grades` (valid for ever under the active rules)."""
    version = active_ruleset(s).version
    firms = []
    for grade in grades:
        firm = make_firm(s, **kw)
        s.add(
            FirmAssessment(
                firm_id=firm.id,
                as_of=date(2026, 11, 1),
                score=100,
                grade=grade,
                rule_set_version=version,
                valid_until=VALID_FOREVER,
            )
        )
        firms.append(firm)
    s.flush()
    return firms


@pytest.fixture
def city(tx):
    with tx() as s:
        ensure_default_ruleset(s)
        firms = grade_firms(s, "A" * 40 + "B" * 30 + "C" * 10 + "D" * 4)
        assert import_roster(s, roster_csv(6)).ok
        return firms


def request(seed="2026-12-第1批", **kw):
    return check_request(seed, kw.pop("as_of", date(2026, 11, 22)), **kw)


def test_same_seed_same_data_same_plan(city, session):
    first = derive_plan(session, request())
    second = derive_plan(session, request())
    assert [(f.uscc, f.inspectors) for f in first.firms] == [(f.uscc, f.inspectors) for f in second.firms]
    assert first.digest == second.digest
    other = derive_plan(session, request("另一个种子"))
    assert other.digest != first.digest  # the seed matters (1 of C(40,1)·C(30,3)·C(10,4)… would collide)


def test_bounds_every_d_and_two_distinct_inspectors(city, session):
    plan = derive_plan(session, request())
    assert plan.grades == {
        "A": {"eligible": 40, "chosen": 1},  # 1.2 → 1
        "B": {"eligible": 30, "chosen": 3},
        "C": {"eligible": 10, "chosen": 4},
        "D": {"eligible": 4, "chosen": 4},
    }
    d_firms = {f.uscc for f in city[-4:]}
    assert d_firms <= {f.uscc for f in plan.firms}
    assert [f.uscc for f in plan.firms] == sorted(f.uscc for f in plan.firms)
    for f in plan.firms:
        assert len(f.inspectors) == 2 and len(set(f.inspectors)) == 2


def test_chosen_count_rounds_half_up_from_the_decimal_rate():
    assert chosen_count(100, 0.03) == 3  # 100 * 0.03 == 3.0000000000000004 in binary
    assert chosen_count(50, 0.03) == 2  # 1.5 → 2
    assert chosen_count(7, 1.0) == 7
    assert chosen_count(0, 0.4) == 0


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 5000), st.decimals(0, 1, places=3))
def test_chosen_is_within_one_of_eligible_times_rate(eligible, rate):
    k = chosen_count(eligible, float(rate))
    assert abs(k - eligible * rate) <= 1 and 0 <= k <= eligible
    if rate == 1:
        assert k == eligible


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=20).filter(lambda s: s.strip() and s.isprintable()))
def test_any_seed_keeps_the_bounds(city, session, seed):
    plan = derive_plan(session, request(seed))
    rates = active_ruleset(session).plan.rates
    for grade, counts in plan.grades.items():
        assert abs(counts["chosen"] - counts["eligible"] * rates[grade]) <= 1
        assert sum(1 for f in plan.firms if f.grade == grade) == counts["chosen"]
    assert sum(1 for f in plan.firms if f.grade == "D") == 4


def test_filters_region_and_industry(tx, session):
    with tx() as s:
        ensure_default_ruleset(s)
        grade_firms(s, "DD", region="南城街道", industry="C39")
        grade_firms(s, "DD", region="东城街道", industry="C39")
        grade_firms(s, "D", region="南城街道", industry="F51")
        import_roster(s, roster_csv(4))
    assert derive_plan(session, request(region="南城街道")).grades["D"] == {"eligible": 3, "chosen": 3}
    assert derive_plan(session, request(industry="C")).grades["D"]["eligible"] == 4
    assert derive_plan(session, request(region="南城街道", industry="C39")).grades["D"]["eligible"] == 2


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"seed": " "}, "随机种子不能为空"),
        ({"as_of": date(2026, 11, 23)}, "晚于今天"),
        ({"region": "火星街道"}, "不在本市区划名录中"),
        ({"industry": "Z9"}, "行业"),
    ],
)
def test_bad_requests_are_refused(kw, message):
    seed = kw.pop("seed", "s")
    with pytest.raises(ValueError, match=message):
        check_request(seed, kw.pop("as_of", date(2026, 11, 22)), **kw)


def test_rotation_last_inspectors_are_not_drawn_again(city, tx, engine, session):
    with tx() as s:
        first, created = make_plan(s, request("一"), created_by="test")
        assert created
        first_id = first.id
    with tx() as s:
        second, _ = make_plan(s, request("二"), created_by="test")
        second_id = second.id
    rows = session.exec(select(PlanFirm.plan_id, PlanFirm.firm_id, PlanFirm.inspectors)).all()
    before = {firm: set(ins.split(",")) for plan, firm, ins in rows if plan == first_id}
    after = {firm: set(ins.split(",")) for plan, firm, ins in rows if plan == second_id}
    shared = before.keys() & after.keys()
    assert shared  # the D firms are in every plan
    for firm in shared:
        assert not before[firm] & after[firm]
    assert verify_plan(session, first_id).ok and verify_plan(session, second_id).ok


def test_same_seed_twice_is_one_plan_and_verify_detects_changes(city, tx, engine, session):
    with tx() as s:
        plan, created = make_plan(s, request(), created_by="test")
        plan_id = plan.id
    with tx() as s:
        again, created_again = make_plan(s, request(), created_by="test")
    assert created and not created_again and again.id == plan_id
    assert session.exec(select(func.count()).select_from(SupervisionPlan)).one() == 1
    assert verify_plan(session, plan_id).ok
    with tx() as s:  # the data changes: a D firm is now B
        row = s.get(FirmAssessment, city[-1].id)
        row.grade = "B"
        s.add(row)
    session.rollback()  # a fresh snapshot
    check = verify_plan(session, plan_id)
    assert not check.ok and any("数据已变化" in p for p in check.problems)
    with tx() as s:  # a new draw on the new data is a new plan
        _, created = make_plan(s, request(), created_by="test")
    assert created


def test_plan_tables_are_append_only(city, tx, engine):
    with tx() as s:
        plan, _ = make_plan(s, request(), created_by="test")
        plan_id = plan.id
    for statement in (
        f"UPDATE supervision_plan SET seed = 'x' WHERE id = {plan_id}",
        f"DELETE FROM plan_firm WHERE plan_id = {plan_id}",
    ):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))


def test_roster_too_small_is_a_clear_error_and_writes_nothing(tx, session):
    with tx() as s:
        ensure_default_ruleset(s)
        grade_firms(s, "D")
        import_roster(s, roster_csv(1))
    with pytest.raises(PlanError, match="检查人员名录只有 1 名"):
        make_plan(session, request(), created_by="test")
    session.rollback()
    assert session.exec(select(func.count()).select_from(SupervisionPlan)).one() == 0


def test_rotation_can_exhaust_the_roster(tx, session):
    with tx() as s:
        ensure_default_ruleset(s)
        grade_firms(s, "D")
        import_roster(s, roster_csv(3))
    with tx() as s:
        make_plan(s, request("一"), created_by="test")
    with pytest.raises(PlanError, match="回避后"):
        derive_plan(session, request("二"))


def test_grades_from_events_when_no_stored_assessment(tx, session):
    """A firm never assessed: its grade as of the date comes from the same SQL evaluator."""
    with tx() as s:
        ensure_default_ruleset(s)
        recorder = make_user(s, role="recorder")
        reviewer = make_user(s, role="reviewer")
        bad = make_firm(s)
        make_firm(s)
        raw = {
            "uscc": bad.uscc,
            "event_type": "penalty",
            "occurred_on": "2026-03-02",
            "document_no": "罚-9",
            "authority": "市场监督管理局",
            "severity": "heavy",
            "amount": "200000",
        }
        approve_event(s, record_event(s, raw, recorder=recorder), reviewer)
        s.execute(text("DELETE FROM assessment"))
        import_roster(s, roster_csv(4))
    plan = derive_plan(session, request())
    assert plan.grades["D"] == {"eligible": 1, "chosen": 1}
    assert plan.grades["B"]["eligible"] == 1
    # Before the penalty the firm was B: the grade is as of the date.
    assert derive_plan(session, request(as_of=date(2026, 3, 1))).grades["D"]["eligible"] == 0


def test_cli_plan_json_contract(city, runner):
    result = runner.invoke(args=["credit", "plan", "--seed", "S1", "--as-of", "2026-11-22", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc["grades"]) == set(GRADES)
    assert doc["grades"]["D"] == {"eligible": 4, "chosen": 4}
    assert len(doc["firms"]) == sum(g["chosen"] for g in doc["grades"].values())
    for firm in doc["firms"]:
        assert {"uscc", "name", "grade", "inspectors"} <= set(firm) and len(firm["inspectors"]) == 2
    again = json.loads(runner.invoke(args=["credit", "plan", "--seed", "S1", "--json"]).output)
    assert again["firms"] == doc["firms"] and again["plan"]["id"] == doc["plan"]["id"]
    verify = runner.invoke(args=["credit", "plan-verify", str(doc["plan"]["id"])])
    assert verify.exit_code == 0, verify.output


@pytest.mark.parametrize(
    "args",
    [
        ["--seed", "S", "--as-of", "2026-11-23"],
        ["--seed", "S", "--region", "火星街道"],
        ["--seed", "S", "--industry", "Z"],
        ["--seed", ""],
    ],
)
def test_cli_plan_refusals_change_nothing(city, runner, engine, args):
    result = runner.invoke(args=["credit", "plan", *args, "--json"])
    assert result.exit_code != 0 and "错误" in result.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM supervision_plan")).scalar() == 0


def test_roster_import_is_all_or_nothing_and_idempotent(tx, session):
    with tx() as s:
        report = import_roster(s, b"code,name,active\nZF1,\xe5\xbc\xa0\xe4\xb8\x89,\nZF1,x,\nZF2,,maybe\n")
        assert not report.ok and {e.row for e in report.errors} == {3, 4}
    assert session.exec(select(func.count()).select_from(Inspector)).one() == 0
    with tx() as s:
        assert import_roster(s, roster_csv(3)).added == 3
    with tx() as s:
        again = import_roster(s, roster_csv(3))
        assert (again.added, again.updated) == (0, 0)


def test_plan_xlsx(city, tx, session):
    from openpyxl import load_workbook

    with tx() as s:
        plan, _ = make_plan(s, request(), created_by="test")
        plan_id = plan.id
    data = plan_xlsx(session, session.get(SupervisionPlan, plan_id))
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][1] == "统一社会信用代码" and len(rows) == 1 + plan.firm_count


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["plan"]["rates"].update(D=1.5), "plan.rates"),
        (lambda d: d["plan"]["rates"].pop("A"), "plan.rates"),
        (lambda d: d["plan"].update(inspectors_per_firm=0), "inspectors_per_firm"),
        (lambda d: d["plan"].update(extra=1), "未知的设置"),
        (lambda d: d["honour_rolls"].update(publish="yes"), "publish"),
        (lambda d: d["honour_rolls"]["rolls"].append(dict(d["honour_rolls"]["rolls"][0])), "不能重复"),
        (lambda d: d["honour_rolls"].update(pass_type="penalty"), "pass_type"),
    ],
)
def test_rule_set_plan_and_honour_sections_are_checked(change, message):
    from credit.rules.ruleset import RuleSetError, default_document, parse_ruleset

    document = default_document()
    change(document)
    with pytest.raises(RuleSetError, match=message):
        parse_ruleset(document)


def test_a_version_without_plan_takes_the_supervision_rates():
    from credit.rules.ruleset import default_document, parse_ruleset

    document = default_document()
    del document["plan"], document["honour_rolls"]
    document["supervision"]["A"] = 0.05
    rules = parse_ruleset(document)
    assert rules.plan.rates["A"] == 0.05 and rules.plan.inspectors_per_firm == 2
    assert rules.honour.rolls == ()
