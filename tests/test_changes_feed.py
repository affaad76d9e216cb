"""The changes feed (`GET /api/v1/changes`) and the outbox behind it: every change in commit order with an
integer cursor, written by the per-firm and the set-based paths alike (a nightly run that changes nothing
writes nothing); a department that syncs from the feed alone ends with exactly the bulk file's lists; the
bulk file answers 304 to a matching If-None-Match and carries Last-Modified."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from credit import clock
from credit.db import new_session
from credit.models import Actor, ChangeOutbox, Firm
from credit.services.assessment import assess_all
from credit.services.due_process import decide_black
from credit.services.listings import open_listing, propose_black
from credit.services.rulesets import active_ruleset
from tests.conftest import PG_URL
from tests.factories import make_firm
from tests.test_due_process import NOTICE_DAY, decider, effective_event, heavy_penalty, serve, staff
from tests.test_webhooks import key_headers, penalise_and_list


def read_feed(client, headers, since: int = 0, limit: int = 3) -> list[dict]:
    changes: list[dict] = []
    while True:
        page = client.get(f"/api/v1/changes?since={since}&limit={limit}", headers=headers).get_json()
        changes += page["changes"]
        since = page["next"]
        if not page["has_more"]:
            return changes


def in_force(state: dict, day: date) -> set[tuple]:
    """What a department holds after applying the feed: the entries listed on `day`."""
    held = set()
    for entry in state.values():
        since, until = entry["listed_from"], entry["listed_until"]
        if entry["status"] == "listed" and since <= day.isoformat() and (until is None or day.isoformat() < until):
            held.add((entry["uscc"], entry["list"], since, until))
    return held


def test_a_department_syncing_from_the_feed_ends_with_the_bulk_file(app, client, tx, engine):
    app.config["API_RATE_LIMIT"] = 0
    headers = key_headers(tx)
    with tx() as s:
        staff(s)
        firms = [make_firm(s) for _ in range(4)]
    penalise_and_list(tx, firms[0])  # per firm: proposed, then listed
    penalise_and_list(tx, firms[1])
    with clock.today_is(NOTICE_DAY), tx() as s:  # proposed, then withdrawn
        heavy_penalty(s, s.get(Firm, firms[2].id))
        serve(s, open_listing(s, firms[2].id, "black"), NOTICE_DAY)
    with tx() as s:
        decide_black(
            s, open_listing(s, firms[2].id, "black"), decider(s), approve=False, note="复议撤销", on=clock.today()
        )
    with tx() as s:  # the set-based path: a nightly run proposes what the records call for
        effective_event(s, s.get(Firm, firms[3].id), "penalty", date(2026, 9, 1), "罚-批量", "heavy")
    with tx() as s:
        assess_all(s, as_of=clock.today())

    changes = read_feed(client, headers)
    ids = [c["id"] for c in changes]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    with engine.connect() as conn:
        assert len(ids) == conn.execute(select(func.count()).select_from(ChangeOutbox)).scalar()
    kinds = {c["kind"] for c in changes}
    assert {"grade.changed", "listing.proposed", "listing.listed", "listing.withdrawn"} <= kinds
    assert any(c["uscc"] == firms[3].uscc and c["kind"] == "grade.changed" for c in changes)  # set-based

    state: dict[int, dict] = {}
    for change in changes:
        if change["kind"].startswith("listing."):
            state[change["data"]["listing_id"]] = {**change["data"], "uscc": change["uscc"]}
    bulk = client.get("/api/v1/listings", headers=headers).get_json()
    assert bulk["listings"], "the scenario lists someone"
    assert in_force(state, clock.today()) == {(r["uscc"], r["list"], r["since"], r["until"]) for r in bulk["listings"]}

    # The feed continues from the cursor: the later changes alone, then nothing.
    last = ids[-1]
    with tx() as s:
        late = make_firm(s)
    penalise_and_list(tx, late)
    more = read_feed(client, headers, since=last)
    assert {c["uscc"] for c in more} == {late.uscc} and more[0]["id"] > last
    assert "listing.listed" in {c["kind"] for c in more}
    assert read_feed(client, headers, since=more[-1]["id"]) == []


def test_a_nightly_run_that_changes_nothing_writes_nothing(tx, engine):
    with tx() as s:
        for _ in range(5):
            make_firm(s)
    with tx() as s:
        assess_all(s, as_of=clock.today())
    with engine.connect() as conn:
        first = conn.execute(select(func.count()).select_from(ChangeOutbox)).scalar()
    assert first == 5  # each firm's first grade
    with tx() as s:
        assess_all(s, as_of=clock.today())
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ChangeOutbox)).scalar() == first


def test_bad_cursors_are_refused(app, client, tx):
    headers = key_headers(tx)
    for query in ("since=-1", "since=x", "limit=0", "limit=1001"):
        response = client.get(f"/api/v1/changes?{query}", headers=headers)
        assert response.status_code == 422 and response.get_json()["error"] == "validation_failed"
    assert client.get("/api/v1/changes", headers=key_headers(tx, "check")).status_code == 403


def test_the_bulk_file_revalidates(app, client, tx):
    app.config["API_RATE_LIMIT"] = 0
    headers = key_headers(tx)
    with tx() as s:
        staff(s)
        firm = make_firm(s)
    first = client.get("/api/v1/listings", headers=headers)
    etag = first.headers["ETag"]
    assert first.headers["Last-Modified"]
    again = client.get("/api/v1/listings", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag and not again.data
    csv = client.get("/api/v1/listings?format=csv", headers={**headers, "If-None-Match": etag})
    assert csv.status_code == 200 and csv.headers["ETag"] != etag
    penalise_and_list(tx, firm)
    changed = client.get("/api/v1/listings", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert any(r["uscc"] == firm.uscc for r in changed.get_json()["listings"])


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL: concurrent writers (SQLite has one writer)")
def test_ids_are_drawn_in_commit_order_under_concurrent_writers(tx, engine):
    """A writer that changed a listing holds the outbox's lock until it commits: a second writer's change
    waits and gets the next id after it, so a reader never sees id N+1 before id N."""
    with tx() as s:
        staff(s)
        a, b = make_firm(s), make_firm(s)
        for firm in (a, b):
            effective_event(s, firm, "penalty", date(2026, 9, 1), f"罚-{firm.id}", "heavy")
    first = new_session(engine, Actor(label="t1", source="test"))
    try:
        propose_black(first, a.id, ("heavy_penalty",), clock.today(), active_ruleset(first))
        first.flush()  # the trigger ran: t1 holds the lock, its change is not yet committed
        done = threading.Event()

        def second_writer():
            with tx() as s:
                propose_black(s, b.id, ("heavy_penalty",), clock.today(), active_ruleset(s))
            done.set()

        thread = threading.Thread(target=second_writer)
        thread.start()
        assert not done.wait(0.5), "the second writer drew an id while the first was uncommitted"
        first.commit()
        thread.join(10)
        assert done.is_set()
    finally:
        first.close()
    with engine.connect() as conn:
        rows = conn.execute(
            select(ChangeOutbox.id, ChangeOutbox.uscc)
            .where(ChangeOutbox.kind == "listing.proposed")
            .order_by(ChangeOutbox.id)
        ).all()
    assert [r.uscc for r in rows] == [a.uscc, b.uscc]
