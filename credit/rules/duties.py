"""Separation of duties in the due process (内部控制, ASVS V1.4/V4.1): who may not take a step because of
a step they took earlier in the same case. Pure: the facts are the ids of the people who took each step.

- The reviewer who approved a triggering record of a black entry may not decide the entry, nor register
  the firm's waiver of its objection period (the waiver is what lets the decision come at once, so it is
  part of the decision).
- The reviewer who decided an entry may not decide an objection or credit-repair application against it;
  the reviewer who approved a record may not decide an objection against that record.

A decision by anyone else stays possible; the rule set's `internal_control.separation_of_duties` turns it
off. Callers give reasons by `code`; the message is for logs and the command line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class DutyCode(StrEnum):
    """Why a person may not take a step."""

    approved_trigger = "approved_trigger"  # approved a triggering record → may not decide the listing
    approved_trigger_waiver = "approved_trigger_waiver"  # … nor register the waiver
    decided_listing = "decided_listing"  # decided the listing → may not decide a petition against it
    approved_record = "approved_record"  # approved the record → may not decide an objection against it


MESSAGES = {
    DutyCode.approved_trigger: "您批准了该案的触发记录，按职责分离不能作出列入决定",
    DutyCode.approved_trigger_waiver: "您批准了该案的触发记录，按职责分离不能登记企业放弃陈述申辩",
    DutyCode.decided_listing: "您作出了该榜单条目的列入决定，按职责分离不能对针对它的申请作出决定",
    DutyCode.approved_record: "您批准了该信用记录，按职责分离不能对针对它的异议作出决定",
}


@dataclass(frozen=True)
class DutyConflict:
    """A step refused by separation of duties: the code (for logic and translated pages) and a message."""

    code: DutyCode

    @property
    def message(self) -> str:
        return MESSAGES[self.code]


def listing_decision_conflict(
    *, enabled: bool, person_id: int | None, trigger_approver_ids: Iterable[int | None], waiver: bool = False
) -> DutyConflict | None:
    """Whether `person_id` may not decide a black entry (or, with `waiver`, register the firm's waiver)
    because they approved one of the records that trigger it. None when they may."""
    if not enabled or person_id is None:
        return None
    if person_id in {i for i in trigger_approver_ids if i is not None}:
        return DutyConflict(DutyCode.approved_trigger_waiver if waiver else DutyCode.approved_trigger)
    return None


def petition_decision_conflict(
    *, enabled: bool, person_id: int | None, listing_decided_by_id: int | None, record_approved_by_id: int | None
) -> DutyConflict | None:
    """Whether `person_id` may not decide a petition because they decided the entry it is against, or
    approved the record it is against. None when they may."""
    if not enabled or person_id is None:
        return None
    if listing_decided_by_id is not None and person_id == listing_decided_by_id:
        return DutyConflict(DutyCode.decided_listing)
    if record_approved_by_id is not None and person_id == record_approved_by_id:
        return DutyConflict(DutyCode.approved_record)
    return None
