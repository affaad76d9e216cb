"""Supervision statistics and grade history: each figure equals an independent SQL count; both assessment
paths write the same history; the CLI's JSON contract; the rule set's [statistics] section."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import text

from credit.models import CreditEvent
from credit.rules.ruleset import RuleSetError, default_document, parse_ruleset
from credit.services.assessment import assess_all, reassess_firms
from credit.services.grade_history import grade_counts_on, grade_on
from credit.services.rulesets import active_ruleset, ensure_default_ruleset
from credit.services.statistics import city_statistics
from tests.factories import make_firm

AS_OF = date(2026, 11, 22)
_n = iter(range(1, 10**6))


def add(s, firm, event_type, occurred_on, *, status="effective", **extra):
    s.add(
        CreditEvent(
            firm_id=firm.id,
            event_type=event_type,
            occurred_on=occurred_on,
            document_no=f"统-{next(_n)}",
            authority="东莞市市场监督管理局",
            status=status,
            **extra,
        )
    )


def city(s):
    """A small city: 30 firms in 虎门镇 failing often, 30 in 长安镇 passing; revoked and pending checks that
    must not count; 首席质量官 appointed and one who left."""
    ensure_default_ruleset(s)
    firms = []
    for i in range(30):
        bad = make_firm(s, region="虎门镇", industry="C", scale="规上")
        good = make_firm(s, region="长安镇", industry="F", scale="规上" if i % 2 else "规下")
        firms += [bad, good]
        add(s, bad, "spot_check_fail", date(2026, 3, 1), severity="general")
        add(s, bad, "spot_check_pass", date(2026, 5, 1))
        add(s, good, "spot_check_pass", date(2026, 4, 1))
        add(s, good, "spot_check_pass", date(2025, 4, 1))
        add(s, good, "spot_check_fail", date(2026, 6, 1), severity="general", status="revoked")
        add(s, good, "spot_check_fail", date(2026, 6, 2), severity="general", status="pending")
        if i < 5:
            add(s, good, "cqo_appointed", date(2025, 1, 1), person_name=f"张{i}", certificate_no=f"CQO-{i}")
        if i == 0:
            add(s, good, "cqo_left", date(2026, 1, 1), person_name="张0", certificate_no="CQO-0")
    s.flush()
    return firms


def sql(s, statement, **params):
    return s.execute(text(statement), params).all()


def test_every_figure_equals_an_independent_sql_count(session):
    city(session)
    assess_all(session, as_of=AS_OF)
    rules = active_ruleset(session)
    stats = city_statistics(session, rules, year=2026, as_of=AS_OF)

    checks, passed = sql(
        session,
        "SELECT COUNT(*), SUM(CASE WHEN event_type = 'spot_check_pass' THEN 1 ELSE 0 END) FROM credit_event "
        "WHERE status = 'effective' AND event_type IN ('spot_check_pass', 'spot_check_fail') "
        "AND occurred_on >= :a AND occurred_on <= :b",
        a=date(2026, 1, 1),
        b=AS_OF,
    )[0]
    assert (stats.city.checks, stats.city.passed) == (checks, passed) == (90, 60)  # revoked/pending never
    regions = sql(
        session,
        "SELECT f.region, COUNT(*), SUM(CASE WHEN e.event_type = 'spot_check_pass' THEN 1 ELSE 0 END) "
        "FROM credit_event e JOIN firm f ON f.id = e.firm_id WHERE e.status = 'effective' "
        "AND e.event_type IN ('spot_check_pass', 'spot_check_fail') AND e.occurred_on >= '2026-01-01' "
        "GROUP BY f.region ORDER BY f.region",
    )
    assert [(r.key, r.checks, r.passed) for r in stats.by_region] == [tuple(r) for r in regions]
    assert {r.key: r.checks for r in stats.by_industry} == {"C": 60, "F": 30}
    assert [(r.key, r.checks) for r in stats.by_year][-2:] == [("2025", 30), ("2026", 90)]

    grades = dict(sql(session, "SELECT grade, COUNT(*) FROM assessment GROUP BY grade"))
    assert {g: n for g, n in stats.grades.items() if n} == grades
    assert stats.lists == {"red": 0, "black": 0}
    # 5 appointed, one left: 4 in post, all 规上 (odd i of 长安镇 are 规上: i = 1, 3)
    assert stats.cqo.with_cqo == 4
    scale = sql(session, "SELECT COUNT(*) FROM firm WHERE scale = '规上'")[0][0]
    assert stats.cqo.scale_firms == scale == 45
    assert stats.cqo.scale_with_cqo == 2

    # 虎门镇 fails 30 of 60 in the last 12 months, the city 30 of 90: ratio 1.5 → yellow; industry C the same
    keys = {(w.dimension, w.key, w.level) for w in stats.warnings}
    assert keys == {("region", "虎门镇", "yellow"), ("industry", "C", "yellow")}


def test_history_keeps_changes_only_and_answers_by_date(session):
    firms = city(session)
    assess_all(session, as_of=date(2026, 2, 1))
    before = sql(session, "SELECT COUNT(*) FROM grade_history")[0][0]
    assert before == 60
    assess_all(session, as_of=date(2026, 2, 2))  # nothing changed: nothing written
    assert sql(session, "SELECT COUNT(*) FROM grade_history")[0][0] == before
    assess_all(session, as_of=date(2026, 3, 1))  # 30 failures counted from 2026-03-01
    assert sql(session, "SELECT COUNT(*) FROM grade_history")[0][0] == before + 30
    bad = firms[0]
    assert grade_on(session, bad.id, date(2026, 2, 28)).score == 100
    assert grade_on(session, bad.id, date(2026, 3, 1)).score == 90
    assert grade_on(session, bad.id, date(2026, 1, 1)) is None
    counts = grade_counts_on(session, date(2026, 3, 15))
    expected = dict(
        sql(
            session,
            "SELECT h.grade, COUNT(*) FROM grade_history h WHERE h.id = (SELECT h2.id FROM grade_history h2 "
            "WHERE h2.firm_id = h.firm_id AND h2.as_of <= :d ORDER BY h2.as_of DESC, h2.id DESC LIMIT 1) "
            "GROUP BY h.grade",
            d=date(2026, 3, 15),
        )
    )
    assert {g: n for g, n in counts.items() if n} == expected


def test_both_assessment_paths_write_the_same_history(session):
    firms = city(session)
    ids = [f.id for f in firms]
    days = [date(2025, 12, 31), date(2026, 3, 1), date(2026, 5, 1), AS_OF]

    def history():
        return sql(session, "SELECT firm_id, as_of, score, grade FROM grade_history ORDER BY firm_id, as_of, id")

    for day in days:
        assess_all(session, as_of=day)
    batch = history()
    session.execute(text("DELETE FROM grade_history"))
    for day in days:
        reassess_firms(session, ids, as_of=day)
    assert history() == batch
    assert len(batch) > len(firms)


def test_stats_command_json_contract(runner, tx):
    with tx() as s:
        city(s)
        assess_all(s, as_of=AS_OF)
    result = runner.invoke(args=["credit", "stats", "--year", "2026", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"pass_rate", "grades", "red", "black", "cqo", "warnings"} <= set(data)
    assert {"checks", "passed", "rate", "by_region", "by_industry"} <= set(data["pass_rate"])
    assert data["pass_rate"]["by_region"]["虎门镇"] == {"checks": 60, "passed": 30, "rate": 0.5}
    assert set(data["grades"]) == {"A", "B", "C", "D"}
    assert {"region": "虎门镇", "level": "yellow"}.items() <= data["warnings"][0].items() or any(
        w.get("region") == "虎门镇" and w["level"] == "yellow" for w in data["warnings"]
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--as-of", "2026-11-23"],
        ["--year", "2027"],
        ["--as-of", "2026-02-30"],
        ["--year", "2026", "--as-of", "2025-06-01"],
    ],
)
def test_stats_command_refuses_bad_dates(runner, tx, args):
    with tx() as s:
        ensure_default_ruleset(s)
    result = runner.invoke(args=["credit", "stats", *args, "--json"])
    assert result.exit_code != 0
    assert "错误" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "change, message",
    [
        ({"pass_rate_target": 1.5}, "pass_rate_target"),
        ({"fail_types": ["spot_check_pass"]}, "不能有相同"),
        ({"red_ratio": 1.2}, "yellow_ratio"),
        ({"warning_min_checks": 0}, "warning_min_checks"),
        ({"public_figures": ["secrets"]}, "public_figures"),
        ({"surprise": 1}, "未知"),
    ],
)
def test_statistics_section_is_validated(change, message):
    document = default_document()
    document["statistics"] = {**document["statistics"], **change}
    with pytest.raises(RuleSetError, match=message):
        parse_ruleset(document)


def test_a_version_without_the_section_takes_the_default():
    document = default_document()
    del document["statistics"]
    assert parse_ruleset(document).statistics.pass_rate_target == 0.94
