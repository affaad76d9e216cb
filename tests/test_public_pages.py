"""The public site: lists in force, search, a firm's public page with records inside their windows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from credit.clock import today
from credit.models import CreditEvent, Listing
from credit.rules.dates import add_months
from credit.services.rulesets import ensure_default_ruleset
from tests.factories import make_firm


def add_event(s, firm, event_type, occurred_on, n, **extra):
    s.add(
        CreditEvent(
            firm_id=firm.id,
            event_type=event_type,
            occurred_on=occurred_on,
            document_no=f"文-{n}",
            authority="东莞市市场监督管理局",
            status=extra.pop("status", "effective"),
            **extra,
        )
    )


@pytest.fixture
def world(tx):
    day = today()
    with tx() as s:
        ensure_default_ruleset(s)
        red = make_firm(s, name="东莞市公示红榜电子有限公司", region="长安镇")
        black = make_firm(s, name="东莞市公示黑榜化工有限公司", region="虎门镇")
        gone = make_firm(s, name="东莞市已修复移出五金有限公司")
        s.add(
            Listing(
                firm_id=red.id,
                kind="red",
                status="listed",
                reason="红榜理由",
                basis={},
                rule_set_version=1,
                listed_from=day - timedelta(days=100),
                listed_until=add_months(day, 6),
            )
        )
        s.add(
            Listing(
                firm_id=black.id,
                kind="black",
                status="listed",
                reason="从重处罚",
                basis={},
                rule_set_version=1,
                listed_from=day - timedelta(days=10),
                listed_until=add_months(day, 30),
            )
        )
        s.add(
            Listing(
                firm_id=black.id,
                kind="red",
                status="withdrawn",
                reason="不应出现",
                basis={},
                rule_set_version=1,
                proposed_on=day - timedelta(days=40),
                ended_on=day - timedelta(days=20),
            )
        )
        s.add(
            Listing(
                firm_id=gone.id,
                kind="black",
                status="removed",
                reason="修复前理由",
                basis={},
                rule_set_version=1,
                listed_from=day - timedelta(days=500),
                listed_until=add_months(day, 12),
                ended_on=day - timedelta(days=1),
                end_code="repair",
                end_reason="信用修复",
            )
        )
        add_event(s, black, "penalty", day - timedelta(days=200), 1, severity="heavy", amount=300000)
        add_event(s, black, "penalty", day - timedelta(days=200), 2, severity="general", amount=5000)  # small: 3 months
        add_event(s, black, "penalty", day - timedelta(days=30), 3, severity="general", amount=5000)
        add_event(s, black, "spot_check_fail", day - timedelta(days=400), 4, severity="general")
        add_event(s, black, "interview", day - timedelta(days=30), 5)  # not a public record
        add_event(s, black, "penalty", day - timedelta(days=20), 6, severity="general", amount=90000, status="revoked")
        add_event(s, red, "award_provincial", day - timedelta(days=300), 7)
        add_event(s, red, "famous_brand", day - timedelta(days=1200), 8, valid_until=day - timedelta(days=1))
        # a brand title granted 5½ years ago and valid for 6: it counts in the score, so the public sees it
        add_event(s, red, "famous_brand", add_months(day, -66), 9, valid_until=add_months(day, 6))
        add_event(s, red, "award_national", add_months(day, -61), 10)  # 60 months: no longer counts
        return {"red": red, "black": black, "gone": gone}


def test_home_shows_both_lists_and_ages(client, world):
    html = client.get("/").get_data(as_text=True)
    assert "东莞市公示红榜电子有限公司" in html and "东莞市公示黑榜化工有限公司" in html
    assert "3 个月" in html  # the red entry is 100 days old
    assert "不足 1 个月" in html
    assert "已修复移出" not in html and "不应出现" not in html


@pytest.mark.parametrize(
    ("kind", "present", "absent"), [("red", "公示红榜", "公示黑榜"), ("black", "公示黑榜", "已修复移出")]
)
def test_list_pages(client, world, kind, present, absent):
    html = client.get(f"/lists/{kind}").get_data(as_text=True)
    assert present in html and absent not in html
    assert client.get(f"/lists/{kind}?region=长安镇").status_code == 200


def test_list_filters(client, world):
    assert "公示黑榜" not in client.get("/lists/black?region=长安镇").get_data(as_text=True)
    assert "公示黑榜" in client.get("/lists/black?q=黑榜化工").get_data(as_text=True)
    assert client.get("/lists/grey").status_code == 404


def test_search_by_name_and_uscc(client, world):
    assert "东莞市公示红榜电子有限公司" in client.get("/?q=红榜电子").get_data(as_text=True)
    assert "东莞市公示黑榜化工有限公司" in client.get(f"/?q={world['black'].uscc}").get_data(as_text=True)
    assert "没有找到" in client.get("/?q=不存在的公司").get_data(as_text=True)


def test_firm_page_shows_public_records_within_their_windows(client, world):
    html = client.get(f"/firms/{world['black'].uscc}").get_data(as_text=True)
    assert "文-1" in html  # heavy penalty: 36 months
    assert "文-2" not in html  # a fine under 10,000 shows 3 months only
    assert "文-3" in html
    assert "文-4" in html  # spot-check failure: 36 months
    assert "文-5" not in html  # interviews are not public records
    assert "文-6" not in html  # revoked events never show
    assert "从重处罚" in html
    assert "信用等级" not in html  # grades are not published by default


def test_awards_show_while_they_count(client, world):
    html = client.get(f"/firms/{world['red'].uscc}").get_data(as_text=True)
    assert "文-7" in html and "文-8" not in html  # the brand title expired yesterday
    assert "文-9" in html  # still valid: shown however long ago it was granted (no 60-month cap)
    assert "文-10" not in html


def test_nothing_of_an_early_removed_listing_shows(client, world):
    html = client.get(f"/firms/{world['gone'].uscc}").get_data(as_text=True)
    assert "修复前理由" not in html
    assert "不在红榜或黑榜上" in html


def test_unknown_firm_is_404(client, world):
    assert client.get("/firms/914403001922038216").status_code == 404


def test_grades_show_when_the_rule_set_publishes_them(client, world, tx):
    from credit.rules.ruleset import DEFAULT_PATH
    from credit.services.rulesets import activate_version, save_version

    with tx() as s:
        text = DEFAULT_PATH.read_text(encoding="utf-8").replace("publish_grades = false", "publish_grades = true")
        activate_version(s, save_version(s, text, note="公开等级", created_by="t").version)
    html = client.get(f"/firms/{world['black'].uscc}").get_data(as_text=True)
    assert "信用等级" in html and "grade-D" in html


def test_a_repaired_listing_leaves_past_publications_on_the_public_site(client, tx, engine):
    """SPEC §2: after early removal the public pages show nothing of the listing; the stored publication
    keeps it for the internal record."""
    from sqlmodel import Session, select

    from credit.models import PublicationEntry
    from credit.rules.listings import EndCode
    from credit.services.listings import end_listing
    from credit.services.publications import publish_period

    with tx() as s:
        ensure_default_ruleset(s)
        firm = make_firm(s, name="东莞市修复后撤下化工有限公司")
        listing = Listing(
            firm_id=firm.id,
            kind="black",
            status="listed",
            reason="从重处罚",
            basis={},
            rule_set_version=1,
            listed_from=date(2025, 1, 10),
            listed_until=date(2028, 1, 10),
        )
        s.add(listing)
        s.flush()
        publish_period(s, "2025-06", published_by="t", today=date(2025, 7, 1))
    assert "修复后撤下" in client.get("/publications/2025-06").get_data(as_text=True)
    with tx() as s:
        end_listing(s, s.get(Listing, listing.id), date(2026, 2, 1), EndCode.repair, "已履行处罚并整改")
    for path in (
        "/publications/2025-06",
        "/publications/2025-06.csv",
        "/publications/2025-06.json",
        "/api/v1/publications/2025-06",
    ):
        assert "修复后撤下" not in client.get(path).get_data(as_text=True), path
    with Session(engine) as s:
        assert s.exec(select(PublicationEntry).where(PublicationEntry.uscc == firm.uscc)).one()
