"""`q=%` and `q=_` on every search page match only names holding that character (issue 11, failure 11):
the public search, the admin firm register (with and without a filter, so through the trigram index and
the walk of the name index), and both current lists. Short text and text of three characters or more take
different paths (a window of names / FTS5 trigram on SQLite, pg_trgm ILIKE on PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from credit.clock import today
from credit.models import Listing
from credit.services.rulesets import ensure_default_ruleset
from tests.factories import make_firm

PERCENT = "东莞市100%纯棉服饰有限公司"
UNDERSCORE = "东莞市下_划线科技有限公司"
BACKSLASH = "东莞市反\\斜线贸易有限公司"
PLAIN = ["东莞市南城精密五金有限公司", "东莞市长安电器有限公司", "东莞市虎门服饰有限公司"]
NAMES = [PERCENT, UNDERSCORE, BACKSLASH, *PLAIN]


@pytest.fixture
def register(tx) -> None:
    """The six firms, each listed (red for the first, black for the others), all in 南城街道."""
    with tx() as s:
        ensure_default_ruleset(s)
        for index, name in enumerate(NAMES):
            firm = make_firm(s, name=name, region="南城街道")
            s.add(
                Listing(
                    firm_id=firm.id,  # type: ignore[arg-type]
                    kind="red" if index % 2 else "black",
                    status="listed",
                    reason="测试",
                    basis={},
                    rule_set_version=1,
                    listed_from=today() - timedelta(days=10),
                    listed_until=today() + timedelta(days=300),
                )
            )


ROUTES = {
    "public search": ("/", {}, None),
    "admin register": ("/admin/firms", {}, "recorder"),
    "admin register, region filter": ("/admin/firms", {"region": "南城街道"}, "recorder"),
    "red list": ("/lists/red", {}, None),
    "black list": ("/lists/black", {}, None),
}
QUERIES = {
    "%": [PERCENT],
    "_": [UNDERSCORE],
    "\\": [BACKSLASH],
    "%%": [],
    "%%%": [],  # three characters: the trigram index path
    "___": [],
    "0%纯": [PERCENT],
    "下_划": [UNDERSCORE],
    "%纯棉服": [PERCENT],
}


def results(path: str, html: str) -> str:
    """The part of the page that shows the matches (the home page also shows the lists themselves)."""
    if path == "/":
        return html.split('<ul class="results">', 1)[1].split("</ul>", 1)[0]
    return html


def listed_in(path: str, name: str) -> bool:
    index = NAMES.index(name)
    if path == "/lists/red":
        return index % 2 == 1
    if path == "/lists/black":
        return index % 2 == 0
    return True


@pytest.mark.parametrize("route", ROUTES, ids=list(ROUTES))
def test_wildcards_match_only_themselves_on_every_search(route, register, client, auth):
    path, extra, role = ROUTES[route]
    if role:
        auth.login_as(role)
    for text, expected in QUERIES.items():
        response = client.get(path, query_string={"q": text, **extra})
        assert response.status_code == 200, (text, response.status_code)
        html = results(path, response.get_data(as_text=True))
        shown = [name for name in NAMES if name.replace("\\", "&#92;") in html or name in html]
        wanted = [name for name in expected if listed_in(path, name)]
        assert shown == wanted, (route, text, shown)
    # and the plain search still finds what it should
    html = results(path, client.get(path, query_string={"q": "服饰", **extra}).get_data(as_text=True))
    assert [n for n in NAMES if n in html] == [n for n in (PERCENT, PLAIN[2]) if listed_in(path, n)]
