"""Credit checks (信用核查): a firm's grade, lists in force and the measures that apply for a purpose."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, select

from credit.clock import FutureDate, check_not_future, today
from credit.models import Firm, Listing
from credit.rules.evaluate import Assessment, EventFact, evaluate, negative_within
from credit.rules.measures import FirmStatus, measures_for
from credit.rules.ruleset import PURPOSES, RuleSet
from credit.services.assessment import firm_facts
from credit.services.listings import in_force_or_proposed
from credit.services.rulesets import active_ruleset
from credit.uscc import is_valid_uscc


class CheckError(ValueError):
    """A check that cannot be answered (bad purpose or date)."""


def listings_in_force(session: Session, firm_id: int, as_of: date) -> list[Listing]:
    """Entries in force on `as_of`: listed then, or proposed by then and still open."""
    return list(
        session.exec(
            select(Listing).where(Listing.firm_id == firm_id, in_force_or_proposed(as_of)).order_by(Listing.id)
        )
    )


@dataclass(frozen=True)
class CheckAnswer:
    firm: Firm
    purpose: str
    as_of: date
    assessment: Assessment
    listings: list[Listing]
    rules: RuleSet
    facts: list[EventFact]

    def as_dict(self) -> dict:
        """The answer in the JSON API's shape (SPEC §4)."""
        return answer_dict(
            uscc=self.firm.uscc,
            name=self.firm.name,
            grade=self.assessment.grade,
            score=self.assessment.score,
            listings=self.listings,
            rules=self.rules,
            purpose=self.purpose,
            as_of=self.as_of,
            negative_within=lambda months: negative_within(self.facts, self.as_of, months, self.rules),
        )


def answer_dict(
    *,
    uscc: str,
    name: str,
    grade: str,
    score: int,
    listings: Sequence[Any],
    rules: RuleSet,
    purpose: str,
    as_of: date,
    negative_within: Callable[[int], bool],
) -> dict[str, Any]:
    """A check's answer in the JSON API's shape (SPEC §4), from the firm's grade and score, its entries in
    force (Listing rows or rows with the same columns) and the negative-event test of the measures. The
    one definition of the answer: the live path (`CheckAnswer`) and the hot path (credit.services.
    hot_checks) both call it."""
    status = FirmStatus(
        grade=grade,
        black_listed=any(entry.kind == "black" and entry.status != "proposed" for entry in listings),
        red_listed=any(entry.kind == "red" and entry.status != "proposed" for entry in listings),
        negative_within=negative_within,
    )
    answer: dict[str, Any] = {
        "uscc": uscc,
        "name": name,
        "grade": grade,
        "score": score,
        "lists": [
            {
                "list": entry.kind,
                "status": "listed" if entry.listed_from else entry.status,
                "since": (entry.listed_from or entry.proposed_on).isoformat()
                if (entry.listed_from or entry.proposed_on)
                else None,
                "until": entry.listed_until.isoformat() if entry.listed_until else None,
                "reason": entry.reason,
            }
            for entry in listings
        ],
        "measures": [{"code": m.code, "text": m.text, "basis": m.basis} for m in measures_for(rules, purpose, status)],
        "rule_set": rules.version,
        "as_of": as_of.isoformat(),
        # In the signed answer: its measures are for this purpose, and must not be passed off for another.
        "purpose": purpose,
    }
    if not is_valid_uscc(uscc):
        # Only a recorded legal pilot code is in the register without passing the check characters
        # (credit.services.pilot_codes); an optional field, present only then (docs/api.md).
        answer["pilot_code"] = True
    return answer


def check_firm(session: Session, firm: Firm, *, purpose: str, as_of: date | None = None) -> CheckAnswer:
    """Answer one check: evaluated live, so a change to the file shows at once."""
    if purpose not in PURPOSES:
        raise CheckError(f"用途须为 {', '.join(PURPOSES)} 之一")
    try:
        day = check_not_future(as_of or today(), field="核查日")
    except FutureDate as exc:
        raise CheckError(str(exc)) from None
    rules = active_ruleset(session)
    facts = firm_facts(session, [firm.id]).get(firm.id, [])  # type: ignore[list-item]
    result = evaluate(facts, day, rules)
    return CheckAnswer(firm, purpose, day, result, listings_in_force(session, firm.id, day), rules, facts)  # type: ignore[arg-type]
