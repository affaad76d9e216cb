"""The credit-check log (信用核查记录): every answered check is stored with a receipt id (回执编号) and the
exact answer given, so a department can later prove what it was told. Append-only: rows are inserted,
never changed (the database refuses UPDATE and DELETE)."""

from __future__ import annotations

import base64
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, or_
from sqlmodel import Session, col, func, select

from credit.clock import BUREAU_TZ, today
from credit.models import ApiKey, CreditCheck, Firm, Listing, User, utcnow
from credit.rules.evaluate import evaluate
from credit.rules.ruleset import PURPOSES
from credit.services.assessment import firm_facts
from credit.services.checks import CheckAnswer, CheckError
from credit.services.listings import in_force_or_proposed
from credit.services.rulesets import active_ruleset
from credit.services.signing import Signer, code_matches

# Receipt ids are read aloud and typed by people: no 0/O, 1/I/L.
RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RECEIPT_RANDOM = 8
CHECKS_PER_PAGE = 50
RECEIPT_RE = re.compile(f"HC[0-9]{{8}}[{RECEIPT_ALPHABET}]{{{RECEIPT_RANDOM}}}")


def new_receipt(day: date | None = None) -> str:
    """`HC` + the bureau's date + 8 random characters, e.g. `HC20261122K7QX2M9A` (31⁸ ≈ 8.5×10¹¹ a day)."""
    stamp = (day or today()).strftime("%Y%m%d")
    return "HC" + stamp + "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_RANDOM))


def _row(
    answer: CheckAnswer,
    *,
    channel: str,
    api_key: ApiKey | None,
    department: str,
    user: User | None,
    signer: Signer | None = None,
) -> dict:
    receipt = new_receipt()
    given = {**answer.as_dict(), "check_id": receipt}
    if signer is not None:
        given = signer.sign(given)
    return {
        "receipt": receipt,
        "checked_at": utcnow(),
        "firm_id": answer.firm.id,
        "uscc": answer.firm.uscc,
        "purpose": answer.purpose,
        "as_of": answer.as_of,
        "channel": channel,
        "api_key_id": api_key.id if api_key else None,
        "department": department or (user.department if user else ""),
        "user_id": user.id if user else None,
        "username": user.username if user else "",
        "grade": answer.assessment.grade,
        "rule_set_version": answer.rules.version,
        "answer": given,
    }


def log_checks(
    session: Session,
    answers: Sequence[CheckAnswer],
    *,
    channel: str,
    api_key: ApiKey | None = None,
    department: str = "",
    user: User | None = None,
    signer: Signer | None = None,
) -> list[CreditCheck]:
    """Log answered checks in one INSERT; each row's `answer` is the answer as given, with its `check_id`
    (signed when a `signer` is given: the web, API and CLI log through hot_checks.log_answers, which
    always signs; this live path serves tests and tools).

    Not written through the ORM's audit hook: the check log is itself the record of the read, and a
    second copy of every answer in the audit log would double the write of the hottest endpoint."""
    if channel not in ("api", "web", "cli"):
        raise ValueError(f"unknown channel {channel!r}")
    rows = [_row(a, channel=channel, api_key=api_key, department=department, user=user, signer=signer) for a in answers]
    if rows:
        session.connection().execute(insert(CreditCheck), rows)
    return [CreditCheck(**row) for row in rows]


def log_check(
    session: Session,
    answer: CheckAnswer,
    *,
    channel: str,
    api_key: ApiKey | None = None,
    department: str = "",
    user: User | None = None,
) -> CreditCheck:
    """Log one answered check and return it (its `receipt` is the `check_id` shown to the caller)."""
    return log_checks(session, [answer], channel=channel, api_key=api_key, department=department, user=user)[0]


def _listings_in_force(session: Session, firm_ids: list[int], as_of: date) -> dict[int, list[Listing]]:
    """`checks.listings_in_force` for many firms in one query."""
    found: dict[int, list[Listing]] = defaultdict(list)
    for start in range(0, len(firm_ids), 500):
        chunk = firm_ids[start : start + 500]
        for entry in session.exec(
            select(Listing).where(col(Listing.firm_id).in_(chunk), in_force_or_proposed(as_of)).order_by(Listing.id)
        ):
            found[entry.firm_id].append(entry)
    return found


def check_firms(
    session: Session, firms: Iterable[Firm], *, purpose: str, as_of: date | None = None
) -> dict[int, CheckAnswer]:
    """`check_firm` for many firms at once: the rules, events and listings fetched once for all.
    Returns the answers by firm id."""
    if purpose not in PURPOSES:
        raise CheckError(f"用途须为 {', '.join(PURPOSES)} 之一")
    firms = {f.id: f for f in firms}
    if not firms:
        return {}
    day = as_of or today()
    rules = active_ruleset(session)
    ids = sorted(firms)  # type: ignore[type-var]
    facts = firm_facts(session, ids)  # type: ignore[arg-type]
    listings = _listings_in_force(session, ids, day)  # type: ignore[arg-type]
    answers = {}
    for firm_id, firm in firms.items():
        firm_events = facts.get(firm_id, [])  # type: ignore[arg-type]
        answers[firm_id] = CheckAnswer(
            firm,
            purpose,
            day,
            evaluate(firm_events, day, rules),
            listings.get(firm_id, []),
            rules,
            firm_events,  # type: ignore[arg-type]
        )
    return answers


def firms_by_uscc(session: Session, usccs: Iterable[str]) -> dict[str, Firm]:
    codes = sorted(set(usccs))
    found: dict[str, Firm] = {}
    for start in range(0, len(codes), 500):
        for firm in session.exec(select(Firm).where(col(Firm.uscc).in_(codes[start : start + 500]))):
            found[firm.uscc] = firm
    return found


def get_check(session: Session, receipt: str) -> CreditCheck | None:
    return session.exec(select(CreditCheck).where(CreditCheck.receipt == receipt)).first()


# A signature no answer has, compared against when the receipt is unknown: both outcomes cost the same.
_NO_SIGNATURE = base64.b64encode(bytes(64)).decode("ascii")


def confirm_receipt(session: Session, receipt: str, code: str) -> CreditCheck | None:
    """The logged check of this receipt if `code` is its verification code (signing.verification_code),
    else None — the same None for an unknown receipt and a wrong code, in the same time, so the answer
    never shows to someone without the code and receipts cannot be probed. Reads only."""
    receipt = "".join((receipt or "").split()).upper()
    check = get_check(session, receipt) if RECEIPT_RE.fullmatch(receipt) else None
    signature = (check.answer or {}).get("signature") if check is not None else None
    matches = code_matches(signature or _NO_SIGNATURE, code)
    return check if check is not None and signature and matches else None


@dataclass(frozen=True)
class CheckQuery:
    """Filters of the check log; empty means any."""

    who: str = ""  # department name or username
    uscc: str = ""
    date_from: date | None = None
    date_to: date | None = None
    user_id: int | None = None
    channel: str = ""


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BUREAU_TZ)


def _filtered(statement: Any, query: CheckQuery) -> Any:
    if query.who:
        statement = statement.where(or_(CreditCheck.department == query.who, CreditCheck.username == query.who))
    if query.uscc:
        statement = statement.where(CreditCheck.uscc == query.uscc)
    if query.date_from:
        statement = statement.where(CreditCheck.checked_at >= _local_midnight(query.date_from))
    if query.date_to:
        statement = statement.where(CreditCheck.checked_at < _local_midnight(query.date_to + timedelta(days=1)))
    if query.user_id is not None:
        statement = statement.where(CreditCheck.user_id == query.user_id)
    if query.channel:
        statement = statement.where(CreditCheck.channel == query.channel)
    return statement


def count_checks(session: Session, query: CheckQuery) -> int:
    return session.exec(_filtered(select(func.count()).select_from(CreditCheck), query)).one()


def search_checks(
    session: Session, query: CheckQuery, *, page: int = 1, per_page: int | None = CHECKS_PER_PAGE
) -> list[CreditCheck]:
    """Checks matching `query`, newest first; `per_page=None` for all (the CSV export)."""
    statement = _filtered(select(CreditCheck), query).order_by(col(CreditCheck.id).desc())
    if per_page is not None:
        statement = statement.offset((max(page, 1) - 1) * per_page).limit(per_page)
    return list(session.exec(statement))
