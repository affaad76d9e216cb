"""Withdrawal (撤回) of a publication made in error: a record of its own with the reason; the publication
stays in the archive untouched and marked, drops out of "latest", and the feed says so."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, func, select

from credit import clock
from credit.models import Publication, PublicationEntry, PublicationWithdrawal
from credit.services.publications import (
    PublicationError,
    latest_publication,
    periods_to_publish,
    publish_period,
    withdraw_publication,
)
from tests.conftest import AuthActions, post_form
from tests.factories import make_user
from tests.test_publications import city  # noqa: F401  (fixture)

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def published(tx, city):  # noqa: F811
    with tx() as s:
        publish_period(s, "2026-09", published_by="test")
        publish_period(s, "2026-10", published_by="test")
        make_user(s, username="admin", role="admin")
    return city


def snapshot(engine) -> list:
    with Session(engine) as s:
        return [
            *s.execute(text("SELECT * FROM publication ORDER BY id")).all(),
            *s.execute(text("SELECT * FROM publication_entry ORDER BY id")).all(),
        ]


def test_a_withdrawal_keeps_the_publication_and_drops_it_from_latest(session, published, engine):
    before = snapshot(engine)
    assert latest_publication(session).number == "2026-10"
    with pytest.raises(PublicationError, match="须说明理由"):
        withdraw_publication(session, "2026-10", reason="  ", withdrawn_by="admin")
    withdrawal = withdraw_publication(session, "2026-10", reason="快照日设置错误", withdrawn_by="admin")
    session.commit()
    assert (withdrawal.withdrawn_on.isoformat(), withdrawal.reason) == ("2026-11-22", "快照日设置错误")
    assert latest_publication(session).number == "2026-09"
    assert snapshot(engine) == before  # the publication and its entries are exactly as published
    with pytest.raises(PublicationError, match="已于 2026-11-22 撤回"):
        withdraw_publication(session, "2026-10", reason="again", withdrawn_by="admin")
    with pytest.raises(PublicationError, match="没有编号为 2099-01"):
        withdraw_publication(session, "2099-01", reason="x", withdrawn_by="admin")
    # the scheduler does not publish the period again: a correction is how it gets lists
    assert periods_to_publish(session, today=clock.today(), kind="monthly") == []


def test_the_database_refuses_to_change_or_delete_a_withdrawal(session, published, engine):
    withdraw_publication(session, "2026-10", reason="错误", withdrawn_by="admin")
    session.commit()
    for statement in ("UPDATE publication_withdrawal SET reason = 'x'", "DELETE FROM publication_withdrawal"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))


def test_public_pages_feed_and_api_show_the_withdrawal(client, tx, published):
    with tx() as s:
        withdraw_publication(s, "2026-10", reason="名单含已撤销的处罚", withdrawn_by="admin")
    page = client.get("/publications/2026-10").get_data(as_text=True)
    assert "本发布已于 2026-11-22 撤回" in page and "名单含已撤销的处罚" in page
    archive = client.get("/publications").get_data(as_text=True)
    assert "已撤回" in archive and "2026-10" in archive
    home = client.get("/").get_data(as_text=True)
    assert "/publications/2026-09" in home and "/publications/2026-10" not in home
    api = client.get("/api/v1/publications").get_json()["publications"]
    by_number = {p["number"]: p for p in api}
    assert by_number["2026-10"]["withdrawn"]["reason"] == "名单含已撤销的处罚"
    assert by_number["2026-09"]["withdrawn"] is None
    assert client.get("/api/v1/publications/2026-10").get_json()["withdrawn"]["withdrawn_on"] == "2026-11-22"
    assert client.get("/publications/2026-10.json").get_json()["withdrawn"]["reason"] == "名单含已撤销的处罚"
    feed = ET.fromstring(client.get("/feed.atom").data)  # noqa: S314 - our own feed
    entries = feed.findall(f"{ATOM}entry")
    first = entries[0]
    assert first.findtext(f"{ATOM}title").startswith("撤回")
    assert first.findtext(f"{ATOM}id").endswith("publication/2026-10/withdrawal")
    assert "名单含已撤销的处罚" in first.findtext(f"{ATOM}summary")
    assert feed.findtext(f"{ATOM}updated") == first.findtext(f"{ATOM}updated")


def test_an_admin_withdraws_after_a_confirmation_page(client, engine, published):
    AuthActions(client, engine).login("admin")
    assert "撤回…" in client.get("/admin/publications").get_data(as_text=True)
    confirm = client.get("/admin/publications/2026-10/withdraw").get_data(as_text=True)
    assert "撤回不可撤销" in confirm
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(PublicationWithdrawal)).one() == 0  # a GET changes nothing
    refused = post_form(client, "/admin/publications/2026-10/withdraw", {"reason": ""})
    assert refused.status_code == 422
    done = post_form(client, "/admin/publications/2026-10/withdraw", {"reason": "期次错误"}, follow_redirects=True)
    assert "已撤回发布 2026-10" in done.get_data(as_text=True)
    assert client.get("/admin/publications/2099-01/withdraw").status_code == 404


def test_cli_withdraws_with_a_reason_and_refuses_bad_input(runner, engine, published):
    result = runner.invoke(args=["credit", "withdraw-publication", "2026-10", "--reason", "误发", "--by", "admin"])
    assert result.exit_code == 0, result.output
    assert "已撤回发布 2026-10" in result.output
    for args, message in (
        (["2026-10", "--reason", "再次", "--by", "admin"], "已于 2026-11-22 撤回"),
        (["2026-09", "--reason", " ", "--by", "admin"], "须说明理由"),
        (["2026-09", "--reason", "x", "--by", "nobody"], "没有用户 nobody"),
    ):
        again = runner.invoke(args=["credit", "withdraw-publication", *args])
        assert again.exit_code == 1 and message in again.output, again.output
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(PublicationWithdrawal)).one() == 1
        assert s.exec(select(func.count()).select_from(Publication)).one() == 2
        assert s.exec(select(func.count()).select_from(PublicationEntry)).one() > 0
