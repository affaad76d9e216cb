"""Whose credit file a spot-check result goes on, and how serious a failure is: pure decisions over an
announcement row, read from the rule set's [announcements] section (docs/import.md)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from credit.announcements.names import Party
from credit.rules.ruleset import AnnouncementRules

MANUFACTURING_ROLES = frozenset({"producer", "commissioner", "importer"})


def failure_severity(items: Sequence[str], rules: AnnouncementRules) -> str:
    """`serious` when any failed item is a safety and health item of the rule set's list, else `general`."""
    keys = [unicodedata.normalize("NFKC", k).casefold() for k in rules.serious_items]
    for item in items:
        text = unicodedata.normalize("NFKC", item).casefold()
        if any(key in text for key in keys):
            return "serious"
    return "general"


def seller_at_fault(remark: str, rules: AnnouncementRules) -> bool:
    """Whether the announcement's remark puts the failure on the sampled seller."""
    text = unicodedata.normalize("NFKC", remark)
    return any(unicodedata.normalize("NFKC", m) in text for m in rules.seller_fault_markers)


def record_owners(parties: Sequence[Party], *, failed: bool, remark: str, rules: AnnouncementRules) -> list[Party]:
    """The parties whose files get this result: the producer side in the rule set's roles; the seller
    instead when the announcement puts a failure on it (`seller_at_fault`) or names no producer
    (`no_producer`), where the rule set says so."""
    sellers = [p for p in parties if p.role == "seller"]
    if failed and "seller_at_fault" in rules.seller_records and sellers and seller_at_fault(remark, rules):
        return sellers
    if not any(p.role in MANUFACTURING_ROLES for p in parties) and "no_producer" in rules.seller_records:
        return sellers
    return [p for p in parties if p.role in rules.record_roles]
