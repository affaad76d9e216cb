"""Internationalisation: Chinese msgids, zh_CN by default, English from translations/en.

The catalog tests fail when a string is marked for translation but the English catalog lacks it, when a
Chinese string is written into a template without `_()`, and when the .po was edited but not compiled.
Refresh the catalog with the commands at the top of babel.cfg.
"""

from __future__ import annotations

import gettext
import re
import subprocess
import sys
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, nodes

from credit.models.user import ROLE_LABELS

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "translations"
EN_PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
EN_MO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo"

# The extraction command of babel.cfg, minus the output file and input path.
EXTRACT_ARGS = [
    "extract",
    "-F",
    "babel.cfg",
    "-k",
    "_l",
    "-k",
    "lazy_gettext",
    "--ignore-dirs=.* __pycache__ tests",
    "--add-comments=TRANSLATORS:",
    "--sort-output",
    "--project=credit",
]
GETTEXT_NAMES = {"_", "gettext", "ngettext", "_l", "lazy_gettext"}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%[sdif]")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# Chinese that is meant to stay Chinese in every locale: the language switch names itself.
UNTRANSLATED_OK = {"中文"}

EN_TITLE = "Quality Credit Red and Black Lists"
ZH_TITLE = "质量信用红黑榜"


# --- the catalog -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fresh_template(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """A template extracted from the working tree right now, exactly as babel.cfg documents it."""
    out = tmp_path_factory.mktemp("i18n") / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", *EXTRACT_ARGS, "-o", str(out), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with out.open("rb") as fh:
        return read_po(fh)


@pytest.fixture(scope="module")
def english() -> Catalog:
    with EN_PO.open("rb") as fh:
        return read_po(fh, locale="en")


def _msgids(catalog: Catalog) -> set[str]:
    return {message.id for message in catalog if message.id and isinstance(message.id, str)}


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def test_extraction_reads_every_source_that_marks_strings(fresh_template: Catalog) -> None:
    """Guards the extraction itself: e.g. pybabel skips directories starting with `_` (templates/_macros)
    unless --ignore-dirs is given."""
    located = {path for message in fresh_template for path, _line in message.locations}
    marked = re.compile(r"\b(?:_|_l|gettext|lazy_gettext|ngettext)\(\s*['\"]")
    sources = [*ROOT.glob("credit/**/*.py"), *ROOT.glob("templates/**/*.html")]
    expected = {p.relative_to(ROOT).as_posix() for p in sources if marked.search(p.read_text(encoding="utf-8"))}
    assert expected, "no marked strings found at all"
    assert expected <= located, f"files with marked strings that extraction missed: {sorted(expected - located)}"


def test_run_time_msgids_are_extracted(fresh_template: Catalog) -> None:
    """Role labels reach gettext through a variable: translations/extra_msgids.py must list them all."""
    missing = set(ROLE_LABELS.values()) - _msgids(fresh_template)
    assert not missing, f"add these to translations/extra_msgids.py: {sorted(missing)}"


def test_english_catalog_translates_every_msgid(fresh_template: Catalog, english: Catalog) -> None:
    untranslated = sorted(
        msgid
        for msgid in _msgids(fresh_template)
        if msgid not in english or not english[msgid].string or not str(english[msgid].string).strip()
    )
    assert not untranslated, (
        "msgids without an English translation (run the update command in babel.cfg, translate, compile): "
        f"{untranslated}"
    )


def test_english_catalog_has_no_fuzzy_entries(english: Catalog) -> None:
    assert not english.fuzzy, "the catalog header is marked fuzzy"
    fuzzy = sorted(message.id for message in english if message.id and message.fuzzy)
    assert not fuzzy, f"fuzzy entries are not compiled and must be reviewed: {fuzzy}"


def test_english_translations_keep_placeholders_and_are_english(english: Catalog) -> None:
    problems = []
    for message in english:
        if not message.id or not message.string:
            continue
        msgid, msgstr = str(message.id), str(message.string)
        if _placeholders(msgid) != _placeholders(msgstr):
            problems.append(f"{msgid!r}: placeholders {_placeholders(msgid)} became {_placeholders(msgstr)}")
            continue
        names = re.findall(r"%\((\w+)\)", msgid)
        if names:
            try:
                msgstr % dict.fromkeys(names, "x")
            except (KeyError, TypeError, ValueError) as exc:
                problems.append(f"{msgstr!r} does not format: {exc}")
        if HAN.search(msgstr):
            problems.append(f"{msgid!r}: the translation still contains Chinese: {msgstr!r}")
    problems += [f"{message.id!r}: {errors}" for message, errors in english.check()]
    assert not problems, "\n".join(problems)


def test_committed_mo_matches_po(english: Catalog) -> None:
    """Fails when the .po was edited and `pybabel compile -d translations` was not run."""
    assert EN_MO.exists(), "translations/en/LC_MESSAGES/messages.mo is missing: run pybabel compile"
    compiled = BytesIO()
    write_mo(compiled, english)
    compiled.seek(0)
    expected = gettext.GNUTranslations(compiled)
    with EN_MO.open("rb") as fh:
        committed = gettext.GNUTranslations(fh)
    expected_messages = {k: v for k, v in expected._catalog.items() if k}  # type: ignore[attr-defined]
    committed_messages = {k: v for k, v in committed._catalog.items() if k}  # type: ignore[attr-defined]
    stale = sorted(
        str(key)
        for key in expected_messages.keys() | committed_messages.keys()
        if expected_messages.get(key) != committed_messages.get(key)
    )
    assert not stale, f"messages.mo is out of date with messages.po (run pybabel compile -d translations): {stale}"
    assert committed.gettext(ZH_TITLE) == EN_TITLE


def _untranslated_chinese(source: str) -> list[str]:
    """Chinese in a template's text or string constants that does not go through a gettext call."""
    tree = Environment(autoescape=True, extensions=["jinja2.ext.i18n"]).parse(source)
    translated: set[int] = set()
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name in GETTEXT_NAMES:
            translated.update(id(arg) for arg in call.args if isinstance(arg, nodes.Const))
    found = []
    for data in tree.find_all(nodes.TemplateData):
        found += HAN.findall(data.data)
    for const in tree.find_all(nodes.Const):
        if isinstance(const.value, str) and id(const) not in translated:
            found += HAN.findall(const.value)
    return [text for text in found if text not in UNTRANSLATED_OK]


@pytest.mark.parametrize(
    "template", sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("templates/**/*.html")), ids=str
)
def test_templates_have_no_unmarked_chinese(template: str) -> None:
    unmarked = _untranslated_chinese((ROOT / template).read_text(encoding="utf-8"))
    assert not unmarked, f"{template}: wrap these in _('…'): {unmarked}"


def test_unmarked_chinese_detector() -> None:
    assert _untranslated_chinese("<p>{{ _('企业') }} {{ gettext('名录') }}</p>") == []
    assert _untranslated_chinese("<p>企业</p>") == ["企业"]
    assert _untranslated_chinese("{{ '红榜' if x else _('黑榜') }}") == ["红榜"]


# --- the running app ---------------------------------------------------------------------------------


def _page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _lang_cookie(response) -> str | None:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith("lang="):
            return header
    return None


def test_home_is_chinese_by_default(client) -> None:
    html = _page(client.get("/"))
    assert '<html lang="zh-CN">' in html
    assert ZH_TITLE in html
    assert EN_TITLE not in html


def test_switch_to_english_and_back(client) -> None:
    response = client.get("/lang/en")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/"
    cookie = _lang_cookie(response)
    assert cookie is not None
    assert cookie.startswith("lang=en;")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie

    html = _page(client.get("/"))
    assert '<html lang="en">' in html
    assert f"<title>Home · {EN_TITLE}</title>" in html
    assert "Enterprise Quality Credit Red and Black Lists" in html
    leftover = [text for text in HAN.findall(html) if text not in UNTRANSLATED_OK]
    assert not leftover, f"Chinese left on the English home page: {leftover}"

    response = client.get("/lang/zh_CN")
    assert response.status_code == 302
    assert (_lang_cookie(response) or "").startswith("lang=zh_CN;")
    html = _page(client.get("/"))
    assert '<html lang="zh-CN">' in html
    assert ZH_TITLE in html
    assert EN_TITLE not in html


def test_unknown_language_is_ignored(client) -> None:
    response = client.get("/lang/fr")
    assert response.status_code == 302
    assert _lang_cookie(response) is None
    assert '<html lang="zh-CN">' in _page(client.get("/"))

    client.get("/lang/en")
    assert _lang_cookie(client.get("/lang/xx")) is None
    assert '<html lang="en">' in _page(client.get("/")), "an unknown code must not reset the choice"


def test_unknown_cookie_value_falls_back_to_chinese(client) -> None:
    client.set_cookie("lang", "de")
    html = _page(client.get("/"))
    assert '<html lang="zh-CN">' in html
    assert ZH_TITLE in html


def test_language_switch_returns_to_a_local_next(client) -> None:
    response = client.get("/lang/en", query_string={"next": "/admin/firms?q=x&page=2"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/firms?q=x&page=2"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "http://evil.example",
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_language_switch_refuses_an_open_redirect(client, target: str) -> None:
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 302
    location = response.headers["Location"]
    # Read the Location as a browser would: backslashes count as slashes, tabs and newlines are dropped.
    as_browser = re.sub(r"[\t\r\n]", "", location).replace("\\", "/")
    parts = urlsplit(as_browser)
    assert not parts.scheme, location
    assert not parts.netloc, location
    assert as_browser.startswith("/"), location
    assert not as_browser.startswith("//"), location
    assert _lang_cookie(response) is not None, "the choice is still remembered"


def test_admin_sees_english_navigation(client, auth) -> None:
    auth.login_as("admin")
    response = client.get("/lang/en", query_string={"next": "/admin/firms"})
    assert response.headers["Location"] == "/admin/firms"

    html = _page(client.get("/admin/firms"))
    assert '<html lang="en">' in html
    for label in ("Dashboard", "Firm register", "Users", "Audit log", "Sign out", "Register a firm", "Search"):
        assert f">{label}<" in html, label
    assert "Administrator" in html, "the role label in the header is translated"
    for chinese in ("工作台", "企业名录", "审计日志", "退出", "管理员"):
        assert chinese not in html, chinese

    html = _page(client.get("/admin/users/new"))
    for role in ("Administrator", "Recorder", "Reviewer", "Checker"):
        assert f">{role}</option>" in html, role

    client.get("/lang/zh_CN")
    html = _page(client.get("/admin/firms"))
    assert ">企业名录<" in html
    assert "管理员" in html


def test_error_pages_follow_the_language(client) -> None:
    assert "找不到该页面。" in client.get("/no-such-page").get_data(as_text=True)
    client.get("/lang/en")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found." in response.get_data(as_text=True)
