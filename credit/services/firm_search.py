"""Firm search by an index, at a million firms: the public search box and the staff register list.

Text of 3 characters or more matches anywhere in the name through a trigram index (SQLite: the FTS5 table
`firm_name_fts` with the `trigram` tokenizer; PostgreSQL: `pg_trgm` GIN on firm.name, migration 0009), and
text that could be the start of a USCC also matches codes beginning with it. A trigram index cannot look up
one or two characters (长安, a town; 华为, a trade name), and a scan of every name is what this module exists
to avoid: such text is looked for in a window of `scan_window` names in name order from the cursor — the
page says when the window ran out, and its next link walks on. Matching ignores ASCII case; LIKE wildcards
in the text are literal characters.

Every search reads at most `count_cap + 1` index entries to learn whether the matches are few or many:
- few: all of them are fetched through the index and sorted (at most `count_cap` rows), the count exact;
- many: the name index is walked in order and filtered, which finds a page quickly because matches are
  dense, and the count shows as "count_cap+" (a lower bound).
Pages are keyset pages on (name, id) in code-point order on both databases, so SQLite and PostgreSQL
return the same firms in the same order."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, func, select

from credit.models import Firm

# Shortest text the trigram index can look up (SQLite FTS5 `trigram`, pg_trgm: three characters).
TRIGRAM = 3
DEFAULT_COUNT_CAP = 1000  # the web layer passes config SEARCH_COUNT_CAP
DEFAULT_SCAN_WINDOW = 5000  # the web layer passes config SEARCH_SCAN_WINDOW
_USCC_PREFIX = re.compile(r"[0-9A-Z]{1,18}")
_HIGHEST = "\U0010ffff"  # sorts after every character in code-point order: the end of a prefix range
_FTS = sa.table("firm_name_fts", sa.column("rowid"))


@dataclass(frozen=True)
class FirmQuery:
    """A search of the register: free text (name or USCC), filters, and the page — a keyset cursor
    (`after` / `before` a firm id, as the page links carry) or, for old links, a page number."""

    text: str = ""
    region: str = ""
    industry: str = ""
    page: int = 1
    per_page: int = 50
    after: int | None = None
    before: int | None = None
    count_cap: int = DEFAULT_COUNT_CAP
    scan_window: int = DEFAULT_SCAN_WINDOW


@dataclass
class FirmPage:
    """One page of results. `total` is exact unless `capped` (then there are more than `total`)."""

    items: list[Firm]
    total: int
    page: int
    per_page: int
    capped: bool = False
    next_after: int | None = None  # the cursor of the next page, None on the last
    prev_before: int | None = None  # the cursor of the previous page, None on the first
    partial: bool = False  # short text: only a window of names was looked at (`next_after` walks on)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def escape_like(text: str) -> str:
    """`text` as a literal inside a LIKE pattern with ESCAPE '\\' (no wildcard in it matches anything)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fts_phrase(text: str) -> str:
    """`text` as one FTS5 phrase: the trigram tokenizer then matches it as a substring."""
    return '"' + text.replace('"', '""') + '"'


def _postgres(session: Session) -> bool:
    return session.connection().dialect.name == "postgresql"


def _name(pg: bool) -> ColumnElement[str]:
    """The name in code-point order: PostgreSQL's "C" collation (index ix_firm_name_c), SQLite's BINARY."""
    return col(Firm.name).collate("C") if pg else col(Firm.name)


def _prefix(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    return (column >= prefix) & (column < prefix + _HIGHEST)


def _name_contains(name: ColumnElement[str], text: str, pg: bool) -> ColumnElement[bool]:
    """`text` inside the name, ignoring ASCII case, without a trigram index (row by row)."""
    if pg:
        return func.strpos(func.lower(name), func.lower(text)) > 0  # not indexable: walks in name order
    return name.like("%" + escape_like(text) + "%", escape="\\")  # SQLite LIKE ignores ASCII case


def _text_conditions(text: str, pg: bool) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(the condition through the trigram index, the same condition without it, for walking the name
    index). Both select exactly the same firms."""
    by_scan = _name_contains(col(Firm.name), text, pg)
    pattern = "%" + escape_like(text) + "%"
    if pg:
        by_index = col(Firm.name).ilike(pattern, escape="\\")
    else:
        matched = sa.select(_FTS.c.rowid).where(sa.literal_column("firm_name_fts").op("MATCH")(fts_phrase(text)))
        by_index = col(Firm.id).in_(matched) & by_scan
    upper = text.upper()
    if _USCC_PREFIX.fullmatch(upper):
        code = col(Firm.uscc) == upper if len(upper) == 18 else _prefix(col(Firm.uscc), upper)
        by_index, by_scan = sa.or_(by_index, code), sa.or_(by_scan, code)
    return by_index, by_scan


def search_firms(session: Session, query: FirmQuery) -> FirmPage:
    """One page of firms matching the query, ordered by name then id; reads a bounded number of rows
    whatever the size of the register (see the module docstring)."""
    pg = _postgres(session)
    filters: list[ColumnElement[bool]] = []
    if query.region:
        filters.append(col(Firm.region) == query.region)
    if query.industry:
        filters.append(_prefix(col(Firm.industry), query.industry.upper()))
    text = " ".join(query.text.split())
    if text and len(text) < TRIGRAM:
        return _window_search(session, query, text, filters, pg)
    by_index = by_scan = None
    if text:
        by_index, by_scan = _text_conditions(text, pg)
    cap = max(1, query.count_cap)
    if text and not pg and not filters and not _USCC_PREFIX.fullmatch(text.upper()):
        # The FTS5 table alone first: it streams matches, where `firm.id IN (…)` would list them all.
        matched = sa.select(_FTS.c.rowid).where(sa.literal_column("firm_name_fts").op("MATCH")(fts_phrase(text)))
        many = session.exec(select(func.count()).select_from(matched.limit(cap + 1).subquery())).one() > cap
    else:
        many = False
    if many:
        found, capped = cap + 1, True
    else:
        probe_where = [*filters, *([by_index] if by_index is not None else [])]
        probe = sa.select(sa.literal(1)).select_from(Firm).where(*probe_where).limit(cap + 1).subquery()
        found = session.exec(select(func.count()).select_from(probe)).one()
        capped = found > cap
    # Few matches: through the index, then sorted. Many: walk the name index, filtering as it goes.
    where = [*filters, *([by_scan if capped else by_index] if by_index is not None else [])]
    items, next_after, prev_before, page = _keyset_page(session, query, where, pg)
    return FirmPage(
        items=items,
        total=cap if capped else found,
        page=page,
        per_page=query.per_page,
        capped=capped,
        next_after=next_after,
        prev_before=prev_before,
    )


def _window_search(
    session: Session, query: FirmQuery, text: str, filters: list[ColumnElement[bool]], pg: bool
) -> FirmPage:
    """Short text: the matches among the next `scan_window` names (with the filters) after the cursor.
    The window's end is found first by walking the name index alone (an offset, no rows read); the page
    is then a walk of that range in order that stops at a full page, so nothing is sorted."""
    name = _name(pg)
    per_page = max(1, query.per_page)
    key = sa.tuple_(name, col(Firm.id))
    after = query.after
    cursor = session.exec(select(Firm.name).where(Firm.id == after)).first() if after is not None else None
    where = list(filters)
    if cursor is not None:
        where.append(key > sa.tuple_(sa.literal(cursor), sa.literal(after)))
    window = max(per_page + 1, query.scan_window)
    end = session.exec(
        select(Firm.name, Firm.id).where(*where).order_by(name, col(Firm.id)).offset(window - 1).limit(1)
    ).first()
    if end is not None:
        where.append(key <= sa.tuple_(sa.literal(end[0]), sa.literal(end[1])))
    rows = list(
        session.exec(
            select(Firm)
            .where(*where, _name_contains(col(Firm.name), text, pg))
            .order_by(name, col(Firm.id))
            .limit(per_page + 1)
        )
    )
    items = rows[:per_page]
    if len(rows) > per_page:
        next_after: int | None = items[-1].id
        partial = True
    else:  # the window is used up: walk on from its end, if it ended before the register did
        partial = end is not None
        next_after = end[1] if end is not None else None
    page = max(1, query.page)
    return FirmPage(
        items=items,
        total=(page - 1) * per_page + len(items),
        page=page,
        per_page=per_page,
        capped=partial,
        next_after=next_after,
        prev_before=None,
        partial=partial,
    )


def _keyset_page(
    session: Session, query: FirmQuery, where: list[ColumnElement[bool]], pg: bool
) -> tuple[list[Firm], int | None, int | None, int]:
    name = _name(pg)
    per_page = max(1, query.per_page)
    key = sa.tuple_(name, col(Firm.id))
    cursor_id = query.before if query.before is not None else query.after
    cursor = session.exec(select(Firm.name).where(Firm.id == cursor_id)).first() if cursor_id is not None else None
    page = max(1, query.page)
    statement = select(Firm).where(*where)
    if cursor is not None and query.before is not None:
        rows = list(
            session.exec(
                statement.where(key < sa.tuple_(sa.literal(cursor), sa.literal(cursor_id)))
                .order_by(name.desc(), col(Firm.id).desc())
                .limit(per_page + 1)
            )
        )
        more_before = len(rows) > per_page
        items = list(reversed(rows[:per_page]))
        prev_before = items[0].id if more_before and items else None
        next_after = items[-1].id if items else None
        return items, next_after, prev_before, page if more_before else 1
    if cursor is not None:
        statement = statement.where(key > sa.tuple_(sa.literal(cursor), sa.literal(cursor_id)))
    elif page > 1:  # a page number without a cursor (an old link): an offset, as bounded as the walk
        statement = statement.offset((page - 1) * per_page)
    rows = list(session.exec(statement.order_by(name, col(Firm.id)).limit(per_page + 1)))
    items = rows[:per_page]
    next_after = items[-1].id if len(rows) > per_page and items else None
    prev_before = items[0].id if items and (cursor is not None or page > 1) else None
    if cursor is None and page == 1:
        prev_before = None
    return items, next_after, prev_before, page
