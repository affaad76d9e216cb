"""Activating a rule-set version shows its effect first (issue 11: "N firms change grade"): the first POST
changes nothing; the numbers of the preview are those activation then gives, computed by the same
set-based run."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, func, select

from credit.clock import today
from credit.models import AuditEntry, FirmAssessment, Listing, RuleSetVersion
from credit.rules.ruleset import DEFAULT_PATH
from credit.services.activation import activate_with_effect, preview_activation
from credit.services.assessment import assess_all
from credit.services.rulesets import save_version
from tests.conftest import post_form
from tests.factories import make_firm
from tests.test_due_process import effective_event, staff

# Version 2: a general penalty costs 30 and alone proposes a black listing; one spot-check pass suffices
# for the red list.
V2 = (
    DEFAULT_PATH.read_text(encoding="utf-8")
    .replace("[events.penalty.general]\npoints = -10", "[events.penalty.general]\npoints = -30")
    .replace("passes_min = 3 ", "passes_min = 1 ")
    .replace(
        "[black_listing]",
        '[[black_triggers]]\ncode = "any_penalty"\nlabel = "36 个月内受到行政处罚"\ntypes = ["penalty"]\n'
        "months = 36\nmin_count = 1\n\n[black_listing]",
    )
)


def city(s: Session) -> int:
    """Four firms assessed under version 1 (B with a general penalty; A with one pass, not red; B with
    nothing; one not assessed yet); returns the number of version 2, saved, not active."""
    staff(s)
    penalised, good, _plain = make_firm(s), make_firm(s), make_firm(s)
    effective_event(s, penalised, "penalty", date(2026, 5, 4), "罚-通用", "general")
    effective_event(s, good, "certification", date(2026, 1, 5), "认-1")
    effective_event(s, good, "credit_report", date(2026, 2, 5), "报-1")
    effective_event(s, good, "spot_check_pass", date(2026, 3, 5), "抽-1")
    assess_all(s, as_of=today())
    make_firm(s)  # registered after the last assessment
    assert "passes_min = 1 " in V2 and "any_penalty" in V2 and "points = -30\nmonths = 36\n[events.penalty.heavy]" in V2
    return save_version(s, V2, note="处罚加重", created_by="admin").version


def state(s: Session) -> tuple:
    return (
        s.exec(select(RuleSetVersion.version).where(RuleSetVersion.active)).all(),
        sorted(s.exec(select(FirmAssessment.firm_id, FirmAssessment.grade, FirmAssessment.rule_set_version)).all()),
        sorted(s.exec(select(Listing.firm_id, Listing.kind, Listing.status)).all()),
        s.exec(select(func.count()).select_from(AuditEntry)).one(),
    )


EXPECTED = ((None, "B", 1), ("B", "D", 1))


def test_the_preview_writes_nothing_and_equals_what_activation_does(session):
    version = city(session)
    before = state(session)
    preview = preview_activation(session, version, as_of=today())
    assert state(session) == before
    assert (preview.firms, preview.transitions, preview.changed) == (4, EXPECTED, 2)
    assert (preview.black_proposed, preview.red_listed, preview.red_renewed) == (1, 1, 0)
    done = activate_with_effect(session, version, as_of=today())
    assert done == preview
    after = state(session)
    assert after[0] == [version]
    assert sum(1 for _, kind, status in after[2] if (kind, status) == ("black", "proposed")) == 1
    assert sum(1 for _, kind, status in after[2] if (kind, status) == ("red", "listed")) == 1


def test_the_first_post_shows_the_effect_the_second_activates(tx, client, auth, engine):
    with tx() as s:
        version = city(s)
    auth.login_as("admin")
    with Session(engine) as s:
        before = state(s)
    page = post_form(client, f"/admin/rules/{version}/activate", {})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "等级改变的企业：2 家。" in text
    assert "B → D：1 家" in text and "未评价 → B：1 家" in text
    assert "新增黑榜拟列入：1 家" in text and "新列入红榜：1 家；红榜续期：0 家。" in text
    assert 'name="confirmed" value="yes"' in text
    with Session(engine) as s:
        assert state(s) == before  # the first POST changed nothing

    done = post_form(client, f"/admin/rules/{version}/activate", {"confirmed": "yes"}, follow_redirects=True)
    assert "2 家等级改变，新增黑榜拟列入 1 家，新列入红榜 1 家" in done.get_data(as_text=True)
    with Session(engine) as s:
        active, grades, listings, _ = state(s)
    assert active == [version]
    assert {g for _, g, v in grades if v == version} == {"B", "D", "A"}
    assert sorted((kind, status) for _, kind, status in listings) == [("black", "proposed"), ("red", "listed")]
