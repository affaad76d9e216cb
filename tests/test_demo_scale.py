"""The demo at city scale (issue 10): firms and events stream in chunks, so the demo of a million firms
never builds a list of ids; chunking changes nothing of what it makes, and the city-wide assessment
reports the listings it wrote (PostgreSQL once printed "新列入红榜 -1")."""

from __future__ import annotations

import pytest
from sqlmodel import col, func, select

from credit.clock import today
from credit.demo_data import generate_events, generate_firms, iter_events, iter_firms
from credit.models import CreditEvent, Firm, Listing
from credit.services import demo
from credit.services.assessment import assess_all


def city(session) -> tuple[list, list]:
    firms = session.exec(select(Firm.uscc, Firm.name, Firm.region, Firm.scale).order_by(Firm.uscc)).all()
    events = session.exec(
        select(CreditEvent.document_no, CreditEvent.event_type, CreditEvent.occurred_on, Firm.uscc)
        .join(Firm, col(Firm.id) == CreditEvent.firm_id)
        .order_by(CreditEvent.document_no)
    ).all()
    return firms, events


def test_the_generators_stream_what_the_lists_hold():
    firms = generate_firms(300, seed=5)
    assert list(iter_firms(300, seed=5)) == firms
    assert list(iter_events(iter(firms), count=300, today=today(), seed=5)) == generate_events(
        firms, today=today(), seed=5
    )


@pytest.mark.parametrize(("chunk", "event_chunk"), [(7, 5), (5000, 20000)])
def test_chunks_change_nothing_the_demo_makes(session, monkeypatch, chunk, event_chunk):
    monkeypatch.setattr(demo, "CHUNK", chunk)
    monkeypatch.setattr(demo, "EVENT_CHUNK", event_chunk)
    report = demo.seed_demo(session, firms=60, seed=11)
    assert (report.firms_created, report.firms_present) == (60, 0)
    firms, events = city(session)
    expected_firms = sorted((f["uscc"], f["name"], f["region"], f["scale"]) for f in generate_firms(60, seed=11))
    assert [tuple(f) for f in firms] == expected_firms
    expected = generate_events(generate_firms(60, seed=11), today=today(), seed=11)
    assert report.events_created == len(expected) == len(events)
    assert sorted((e["document_no"], e["event_type"], e["occurred_on"], e["uscc"]) for e in expected) == [
        tuple(e) for e in events
    ]
    # every re-check closes the failure it was generated for, of the same firm
    failure = select(CreditEvent.id, CreditEvent.firm_id, CreditEvent.document_no)
    failures = {row[0]: row[1:] for row in session.exec(failure.where(CreditEvent.event_type == "spot_check_fail"))}
    by_doc = {e["document_no"]: e["rectifies_document_no"] for e in expected if e["event_type"] == "rectified"}
    rechecks = session.exec(
        select(CreditEvent.document_no, CreditEvent.firm_id, CreditEvent.rectifies_id).where(
            CreditEvent.event_type == "rectified"
        )
    ).all()
    assert rechecks and all(failures[r[2]] == (r[1], by_doc[r[0]]) for r in rechecks)
    again = demo.seed_demo(session, firms=60, seed=11)
    assert (again.firms_created, again.firms_present, again.events_created) == (0, 60, 0)


def test_assess_reports_the_listings_it_wrote(session):
    """A city never assessed: the counts `assess` prints are the rows it wrote, on every database."""
    from credit.services.rulesets import ensure_default_ruleset
    from credit.services.users import create_user

    ensure_default_ruleset(session)
    recorder = create_user(session, username="r-demo", role="recorder", password="x" * 12 + "9")
    reviewer = create_user(session, username="v-demo", role="reviewer", password="x" * 12 + "9")
    report = demo.DemoReport()
    firms = demo._insert_firms(session, iter_firms(400, seed=8), report, None)
    demo._insert_events(
        session,
        iter_events(({"uscc": u, "scale": s} for u, s in firms.values()), count=len(firms), today=today(), seed=8),
        {u: firm_id for firm_id, (u, _) in firms.items()},
        recorder.id,
        reviewer.id,
    )
    run = assess_all(session, as_of=today())
    red = session.exec(select(func.count()).select_from(Listing).where(Listing.kind == "red")).one()
    black = session.exec(select(func.count()).select_from(Listing).where(Listing.kind == "black")).one()
    assert (run.red_listed, run.black_proposed) == (red, black)
    assert red > 0 and black > 0
