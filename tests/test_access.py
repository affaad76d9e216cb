"""Every page × every role: anonymous users are sent to log in, the wrong role gets 403, the right role 200.
The table must name every route of the app, so a new page cannot ship without a decision about who sees it."""

from __future__ import annotations

import pytest

from tests.factories import make_firm, make_user

ROLES = ("admin", "recorder", "reviewer", "checker")
ANY = set(ROLES)
STAFF = {"admin", "recorder", "reviewer"}
PUBLIC = "public"

# endpoint -> (GET path, roles allowed; PUBLIC for anonymous access)
PAGES: dict[str, tuple[str, object]] = {
    "public.index": ("/", PUBLIC),
    "public.set_language": ("/lang/en", PUBLIC),
    "public_stats.public_statistics": ("/statistics", PUBLIC),
    "auth.login": ("/login", PUBLIC),
    "auth.change_password": ("/account/password", ANY),
    "auth.login_code": ("/login/code", PUBLIC),  # without a password just checked: back to the log-in
    "auth.totp_setup": ("/account/totp", {"admin", "reviewer"}),
    "admin.index": ("/admin/", ANY),
    "admin.firm_list": ("/admin/firms", STAFF),
    "admin.firm_detail": ("/admin/firms/{uscc}", STAFF),
    "admin.firm_new": ("/admin/firms/new", {"admin", "recorder"}),
    "admin.firm_edit": ("/admin/firms/{uscc}/edit", {"admin", "recorder"}),
    "admin.user_list": ("/admin/users", {"admin"}),
    "admin.user_new": ("/admin/users/new", {"admin"}),
    "admin.user_edit": ("/admin/users/1/edit", {"admin"}),
    "admin.audit_log": ("/admin/audit", {"admin"}),
    "admin.calendar_list": ("/admin/calendar", STAFF),
    "admin.calendar_year": ("/admin/calendar/2026", STAFF),
    "admin.calendar_new": ("/admin/calendar/new", {"admin"}),
    "admin.publication_admin": ("/admin/publications", {"admin"}),
    "admin.publication_withdraw": ("/admin/publications/{publication}/withdraw", {"admin"}),
    "records.event_new": ("/admin/events/new", {"recorder"}),
    "records.event_detail": ("/admin/events/{event_id}", STAFF),
    "records.event_correct": ("/admin/events/{event_id}/correct", {"recorder"}),
    "records.review_queue": ("/admin/review", {"reviewer"}),
    "records.import_list": ("/admin/imports", {"recorder", "reviewer"}),
    "records.import_template": ("/admin/imports/template.csv", {"recorder", "reviewer"}),
    "rules.version_list": ("/admin/rules", STAFF),
    "rules.version_detail": ("/admin/rules/1", STAFF),
    "rules.version_diff": ("/admin/rules/diff?a=1&b=1", STAFF),
    "rules.version_new": ("/admin/rules/new", {"admin"}),
    "dueprocess.listing_list": ("/admin/listings", STAFF),
    "dueprocess.listing_detail": ("/admin/listings/{listing_id}", STAFF),
    "dueprocess.listing_notice": ("/admin/listings/{listing_id}/notice", STAFF),
    "dueprocess.petition_list": ("/admin/petitions", {"reviewer"}),
    "dueprocess.petition_detail": ("/admin/petitions/{petition_id}", {"reviewer"}),
    "dueprocess.petition_new": ("/admin/petitions/new?event={event_id}", {"recorder"}),
    "public.objection_new": ("/objections/new", PUBLIC),
    "public.current": ("/lists/black", PUBLIC),
    "public.firm": ("/firms/{uscc}", PUBLIC),
    "public.publication_list": ("/publications", PUBLIC),
    "public.publication": ("/publications/2026-01", PUBLIC),
    "public.publication_download": ("/publications/2026-01.csv", PUBLIC),
    "public.feed": ("/feed.atom", PUBLIC),
    "public.objection_lookup": ("/objections/lookup?reference={reference}", PUBLIC),
    "public.objection_status": ("/objections/{reference}", PUBLIC),
    "checks.check_form": ("/check", {"checker"}),
    # Anyone holding a receipt confirms it with the code printed on it (tests/test_signed_answers.py).
    "checks.receipt_verify": ("/receipts/verify", PUBLIC),
    # Checkers see only their own receipts (tests/test_checks_web.py); this one was made through the API.
    "checks.receipt": ("/check/receipts/{receipt}", {"admin"}),
    "admin.pilot_codes": ("/admin/pilot-codes", {"admin"}),
    "admin.api_keys": ("/admin/api-keys", {"admin"}),
    "admin.webhooks": ("/admin/webhooks", {"admin"}),
    "stats.dashboard": ("/admin/stats", STAFF),
    "stats.figure_download": ("/admin/stats/pass_rate_years.csv", STAFF),
    "stats.warning_detail": ("/admin/stats/warnings/region/南城街道", STAFF),
    "stats.cqo_registry": ("/admin/cqo", STAFF),
    "stats.cqo_download": ("/admin/cqo.xlsx", STAFF),
    "checks.check_log": ("/admin/checks", {"admin"}),
    "checks.check_log_csv": ("/admin/checks.csv", {"admin"}),
    "announcements.announcement_list": ("/admin/announcements", {"recorder", "reviewer"}),
    "announcements.announcement_detail": ("/admin/announcements/{announcement_id}", STAFF),
    "announcements.queue": ("/admin/announcements/queue", {"recorder"}),
    "announcements.register_firm": ("/admin/announcements/queue/register?key={name_key}", {"recorder"}),
    "announcements.referral_list": ("/admin/announcements/referrals", STAFF),
    "announcements.referral_csv": ("/admin/announcements/referrals.csv", STAFF),
    "announcements.mappings": ("/admin/announcements/mappings", {"recorder"}),
    "supervision.plan_list": ("/admin/plans", STAFF),
    "supervision.plan_detail": ("/admin/plans/{plan_id}", STAFF),
    "supervision.plan_export": ("/admin/plans/{plan_id}.xlsx", STAFF),
    "supervision.inspectors": ("/admin/inspectors", {"admin"}),
    "supervision.honour_rolls": ("/admin/honour-rolls", STAFF),
}
# POST-only endpoints: (path, roles allowed)
ACTIONS: dict[str, tuple[str, object]] = {
    "admin.user_totp_reset": ("/admin/users/1/totp-reset", {"admin"}),
    "auth.logout": ("/logout", PUBLIC),
    "admin.user_password": ("/admin/users/1/password", {"admin"}),
    "admin.api_key_revoke": ("/admin/api-keys/{key_id}/revoke", {"admin"}),
    "records.event_approve": ("/admin/events/{event_id}/approve", {"reviewer"}),
    "records.event_reject": ("/admin/events/{event_id}/reject", {"reviewer"}),
    "records.event_revoke": ("/admin/events/{event_id}/revoke", {"reviewer"}),
    "records.batch_approve": ("/admin/imports/{batch_id}/approve", {"reviewer"}),
    "rules.version_activate": ("/admin/rules/1/activate", {"admin"}),
    "dueprocess.listing_decide": ("/admin/listings/{listing_id}/decide", {"reviewer"}),
    "dueprocess.listing_waive": ("/admin/listings/{listing_id}/waive", {"recorder", "reviewer"}),
    "dueprocess.listing_serve": ("/admin/listings/{listing_id}/serve", {"recorder", "reviewer"}),
    "dueprocess.listing_serve_many": ("/admin/listings/serve", {"recorder", "reviewer"}),
    "dueprocess.petition_decide": ("/admin/petitions/{petition_id}/decide", {"reviewer"}),
    "announcements.announcement_import": ("/admin/announcements/import", {"recorder"}),
    "announcements.confirm_name": ("/admin/announcements/queue/confirm", {"recorder"}),
    "announcements.mark_name_outside": ("/admin/announcements/queue/outside", {"recorder"}),
    "supervision.inspector_deactivate": ("/admin/inspectors/deactivate", {"admin"}),
}


# The JSON API authenticates departments by key, not by login; tests/test_api_*.py check its scopes.
API = {
    "api.record_event",
    "api.event_detail",
    "api.openapi",
    "api.publication_list",
    "api.publication",
    "api.credit_check",
    "api.credit_batch",
    "api.current_listings",
    "api.signing_keys",
    "api.receipt",
    # Watch lists, webhooks and the changes feed (scope watch; tests/test_webhooks.py, test_changes_feed.py).
    "api.watch_list",
    "api.watch_get",
    "api.watch_put",
    "api.watch_delete",
    "api.subscription_list",
    "api.subscription_create",
    "api.subscription_get",
    "api.subscription_delete",
    "api.subscription_deliveries",
    "api.delivery_replay",
    "api.subscription_test",
    "api.changes",
}


def test_every_route_has_an_access_rule(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert endpoints == set(PAGES) | set(ACTIONS) | API


@pytest.fixture
def ids(tx) -> dict:
    """A firm with an effective event and an import batch, recorded and approved by other people."""
    from credit.services.event_import import import_events
    from credit.services.events import approve_event, record_event
    from credit.services.rulesets import ensure_default_ruleset

    with tx() as s:
        ensure_default_ruleset(s)
        firm = make_firm(s)
        recorder = make_user(s, username="someone", role="recorder")
        approver = make_user(s, username="approver", role="reviewer")
        event = record_event(
            s,
            {
                "uscc": firm.uscc,
                "event_type": "interview",
                "occurred_on": "2026-01-05",
                "document_no": "约-1",
                "authority": "市局",
            },
            recorder=recorder,
        )
        approve_event(s, event, approver)
        csv = f"uscc,event_type,occurred_on,document_no,authority\n{firm.uscc},interview,2026-02-01,约-2,市局\n"
        batch = import_events(s, csv.encode(), recorder=recorder, filename="a.csv")
        from credit.services.due_process import file_petition
        from credit.services.listings import open_listing

        heavy = record_event(
            s,
            {
                "uscc": firm.uscc,
                "event_type": "penalty",
                "severity": "heavy",
                "occurred_on": "2026-01-06",
                "document_no": "罚-1",
                "authority": "市局",
            },
            recorder=recorder,
        )
        approve_event(s, heavy, approver)
        listing = open_listing(s, firm.id, "black")
        from datetime import date

        from credit.services.publications import publish_period

        publish_period(s, "2026-01", published_by="test", today=date(2026, 2, 1))
        petition = file_petition(
            s,
            kind="objection",
            firm=firm,
            event=event,
            applicant_name="张",
            applicant_contact="1",
            statement="事实和理由写满十个字",
        )
        from credit.services.check_log import log_check
        from credit.services.checks import check_firm

        check = log_check(s, check_firm(s, firm, purpose="permit"), channel="api", department="测试部门")
        from credit.services.apikeys import create_api_key

        key = create_api_key(s, department="测试部门", scopes="check").key
        from credit.announcements.layouts import Defaults
        from credit.announcements.names import name_key
        from credit.services.announcements import import_announcement

        announced = import_announcement(
            s,
            "序号,标称生产企业名称,被抽样单位名称,食品名称,公告日期\n1,外地某食品有限公司,某超市,腊肠,2026-01-10\n".encode(),
            recorder=recorder,
            defaults=Defaults(publisher="某省市场监督管理局"),
        )
        from credit.services.plans import check_request, import_roster, make_plan

        import_roster(s, b"code,name\nZF1,a\nZF2,b\nZF3,c\n")
        plan, _ = make_plan(s, check_request("access", None), created_by="test")
        return {
            "plan_id": plan.id,
            "announcement_id": announced.announcements[0]["announcement_id"],
            "name_key": name_key("外地某食品有限公司"),
            "key_id": key.id,
            "receipt": check.receipt,
            "uscc": firm.uscc,
            "event_id": event.id,
            "batch_id": batch.batch_id,
            "listing_id": listing.id,
            "petition_id": petition.id,
            "reference": petition.reference,
            "publication": "2026-01",
        }


@pytest.mark.parametrize("endpoint", sorted(PAGES))
def test_anonymous(client, ids, endpoint):
    path, allowed = PAGES[endpoint]
    response = client.get(path.format(**ids))
    if allowed == PUBLIC:
        assert response.status_code in (200, 302)
        assert "/login?next=" not in response.headers.get("Location", "")
    else:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(e for e, (_, allowed) in PAGES.items() if allowed != PUBLIC))
def test_role_matrix(client, auth, ids, endpoint, role):
    auth.login_as(role)
    path, allowed = PAGES[endpoint]
    response = client.get(path.format(**ids))
    assert response.status_code == (200 if role in allowed else 403), response.get_data(as_text=True)[:500]


CONFIRMED_FIRST = {"admin.api_key_revoke", "rules.version_activate"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(e for e, (_, allowed) in ACTIONS.items() if allowed != PUBLIC))
def test_post_only_actions_check_roles(client, auth, ids, endpoint, role):
    from tests.conftest import post_form

    auth.login_as(role)
    path, allowed = ACTIONS[endpoint]
    response = post_form(client, path.format(**ids), {"reset-password": "new-password-123"})
    # A revocation or an activation first answers with its confirmation page (issue 11 #11); the others act and redirect.
    done = 200 if endpoint in CONFIRMED_FIRST else 302
    assert response.status_code == (done if role in allowed else 403)


@pytest.mark.parametrize("endpoint", sorted(ACTIONS))
def test_post_only_actions_refuse_get(client, ids, endpoint):
    path, _ = ACTIONS[endpoint]
    assert client.get(path.format(**ids)).status_code == 405


def test_post_only_action_needs_login(client):
    from tests.conftest import post_form

    response = post_form(client, "/admin/users/1/password", {"reset-password": "new-password-123"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_deactivated_user_loses_access_at_once(client, auth, engine):
    from credit.db import session_scope
    from credit.models import Actor
    from credit.services.users import get_user, update_user

    auth.login_as("recorder")
    assert client.get("/admin/firms").status_code == 200
    with session_scope(engine, Actor.system("test")) as s:
        user = get_user(s, "recorder")
        update_user(s, user, role="recorder", display_name="", department="", is_active=False)
    response = client.get("/admin/firms")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
