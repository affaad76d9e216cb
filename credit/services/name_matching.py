"""Matching the firm names of announcements to the register.

An exact match of the normalised name (credit.announcements.names.name_key), or of a spelling a recorder
confirmed before (an alias), is a match; nothing else ever is. Other names get ranked candidates for a
recorder to confirm: a character index over the register's normalised names picks the firms that share
a name's distinctive characters, and rapidfuzz ranks them by name similarity (and address similarity
when both sides have one). Only firms in the bureau's regions are ever matched or offered: firms outside
them never get events. docs/import.md explains the choices."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process
from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, func, select

from credit.announcements.names import clean, name_key, split_branch
from credit.models import Firm, FirmNameKey, NameAlias
from credit.models.audit import audit_row, write_audit
from credit.reference import REGIONS
from credit.rules.ruleset import AnnouncementRules

CHUNK = 2000
# The character index: a character found in more than this share of the register's names (公, 司, 有, 限,
# 市…) says little about which firm is meant, so candidates are drawn by the rarer ones; at most this
# many of a name's rarest characters are looked up, and at most this many firms sharing them are scored.
COMMON_SHARE = 0.02
RARE_CHARS = 8
SHORTLIST = 400
RERANK = 15  # the best by rapidfuzz's ratio among the shortlist, re-scored with rarity weights
_MASK = (1 << 32) - 1


def _unique(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct values, index of the first of each, count of each) of an integer array, by sorting:
    numpy 2.4's np.unique hashes, and is many times slower on arrays of this size."""
    ordered = np.sort(values, kind="stable")
    if len(ordered) == 0:
        return ordered, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    counts = np.diff(np.append(starts, len(ordered)))
    return ordered[starts], starts, counts


def refresh_name_keys(session: Session, *, progress: Callable[[int], None] | None = None) -> int:
    """Bring the register's normalised-name index in step with the firm table (new firms, changed names);
    returns how many firms were (re)indexed. Set-based writes, window by window of firm ids (bounded
    memory at a million firms), audited as one act."""
    key_table = FirmNameKey.__table__  # type: ignore[attr-defined]
    connection = session.connection()
    highest = session.exec(select(func.max(Firm.id))).one() or 0
    added = changed = 0
    window = CHUNK * 25
    for low in range(0, highest, window):
        stale = connection.execute(
            select(Firm.id, Firm.name, FirmNameKey.firm_id)
            .outerjoin(FirmNameKey, col(FirmNameKey.firm_id) == Firm.id)
            .where(Firm.id > low, Firm.id <= low + window)  # type: ignore[operator]
            .where((col(FirmNameKey.firm_id).is_(None)) | (FirmNameKey.name != Firm.name))
        ).all()
        new = [{"firm_id": i, "name": name, "name_key": name_key(name)} for i, name, known in stale if known is None]
        renamed = [
            {"b_id": i, "b_name": name, "b_key": name_key(name)} for i, name, known in stale if known is not None
        ]
        if new:
            connection.execute(insert(key_table), new)
        if renamed:
            connection.execute(
                update(key_table)
                .where(key_table.c.firm_id == bindparam("b_id"))
                .values(name=bindparam("b_name"), name_key=bindparam("b_key")),
                renamed,
            )
        added += len(new)
        changed += len(renamed)
        if progress and stale:
            progress(len(stale))
    if added or changed:
        write_audit(
            session,
            [
                audit_row(
                    session.info["actor"],
                    action="reindex",
                    entity="firm_name_key",
                    after={"added": added, "changed": changed},
                )
            ],
        )
    return added + changed


@dataclass(frozen=True)
class Resolution:
    """What the register and the remembered decisions say of one normalised name."""

    firm_ids: tuple[int, ...] = ()  # one: a match; several: registered names that normalise alike
    outside: bool = False  # a recorder said this name is not the bureau's
    via_alias: bool = False

    @property
    def firm_id(self) -> int | None:
        return self.firm_ids[0] if len(self.firm_ids) == 1 and not self.outside else None


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def resolve_exact(session: Session, keys: Iterable[str]) -> dict[str, Resolution]:
    """The names that a remembered decision or a registered name (in the bureau's regions) settles."""
    found: dict[str, Resolution] = {}
    for chunk in _chunks(keys):
        aliases = session.exec(
            select(NameAlias.name_key, NameAlias.firm_id, Firm.region)
            .outerjoin(Firm, col(Firm.id) == NameAlias.firm_id)
            .where(col(NameAlias.name_key).in_(chunk))
        ).all()
        for key, firm_id, region in aliases:
            if firm_id is None:
                found[key] = Resolution(outside=True, via_alias=True)
            elif region in REGIONS:
                found[key] = Resolution(firm_ids=(firm_id,), via_alias=True)
        registered = session.exec(
            select(FirmNameKey.name_key, FirmNameKey.firm_id)
            .join(Firm, col(Firm.id) == FirmNameKey.firm_id)
            .where(col(FirmNameKey.name_key).in_(chunk), col(Firm.region).in_(REGIONS))
            .order_by(FirmNameKey.firm_id)
        ).all()
        by_key: dict[str, list[int]] = {}
        for key, firm_id in registered:
            by_key.setdefault(key, []).append(firm_id)
        for key, firm_ids in by_key.items():
            if key not in found:
                found[key] = Resolution(firm_ids=tuple(firm_ids))
    return found


class CharacterIndex:
    """Which registered names share a name's rarer characters: postings of (character → names) in numpy
    arrays, built in a few vectorised passes (about a second per million names)."""

    def __init__(self, firm_ids: list[int], keys: list[str]):
        self.firm_ids = np.asarray(firm_ids, dtype=np.int64)
        self.keys = keys
        self.postings: dict[str, tuple[int, int]] = {}
        self.weights: dict[str, float] = {}
        self.unseen = 1.0
        self.owners = np.zeros(0, dtype=np.int32)
        if not keys:
            return
        codes = np.frombuffer("".join(keys).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        lengths = np.fromiter((len(k) for k in keys), dtype=np.int64, count=len(keys))
        owners = np.repeat(np.arange(len(keys), dtype=np.int64), lengths)
        pairs = _unique((codes << 32) | owners)[0]  # each character once per name, sorted by character
        self.owners = (pairs & _MASK).astype(np.int32)
        chars, starts, counts = _unique(pairs >> 32)
        self.postings = {
            chr(c): (s, n) for c, s, n in zip(chars.tolist(), starts.tolist(), counts.tolist(), strict=True)
        }
        total = len(keys) + 1
        self.weights = {c: math.log(total / (n + 1)) + 1 for c, (_, n) in self.postings.items()}
        self.unseen = math.log(total) + 1  # a character no registered name has

    @classmethod
    def of_register(cls, session: Session) -> CharacterIndex:
        """The index of every registered name in the bureau's regions and every confirmed alias."""
        connection = session.connection()  # plain rows: a million names need no ORM objects
        rows = connection.execute(
            select(FirmNameKey.firm_id, FirmNameKey.name_key)
            .join(Firm, col(Firm.id) == FirmNameKey.firm_id)
            .where(col(Firm.region).in_(REGIONS))
        ).all()
        aliases = connection.execute(
            select(NameAlias.firm_id, NameAlias.name_key)
            .join(Firm, col(Firm.id) == NameAlias.firm_id)
            .where(col(Firm.region).in_(REGIONS))
        ).all()
        pairs = [*rows, *aliases]
        return cls([p[0] for p in pairs], [p[1] for p in pairs])

    def weight(self, char: str) -> float:
        """How much sharing this character says: its inverse document frequency over the register,
        smoothed so that a tiny register still weighs."""
        return self.weights.get(char, self.unseen)

    def name_score(self, key: str, other: str, ratio: float | None = None) -> float:
        """Name similarity 0–100: the mean of rapidfuzz's normalised Indel ratio (order, typos) and the
        Dice overlap of the two names' characters weighted by rarity, so that 招远市康宝食品 and
        招远市康鑫食品, alike by ratio, are told apart by the characters that name the firm."""
        if ratio is None:
            ratio = fuzz.ratio(key, other)
        weights, unseen = self.weights, self.unseen
        mine, theirs = set(key), set(other)
        shared = sum(weights.get(c, unseen) for c in mine & theirs)
        total = sum(weights.get(c, unseen) for c in mine) + sum(weights.get(c, unseen) for c in theirs)
        dice = 2 * shared / total if total else 0.0
        return (ratio + 100 * dice) / 2

    def search(self, key: str, limit: int) -> list[tuple[int, float, str]]:
        """Up to `limit` (firm id, name score 0–100, the registered spelling) for a normalised name, best
        first, one per firm."""
        known = sorted((self.postings[c][1], c) for c in set(key) if c in self.postings)
        if not known:
            return []
        common = max(50, int(len(self.keys) * COMMON_SHARE))
        rare = [c for count, c in known if count <= common][:RARE_CHARS] or [c for _, c in known[:2]]
        postings = np.concatenate([self.owners[s : s + n] for s, n in (self.postings[c] for c in rare)])
        names, _, shared = _unique(postings)
        enough = shared >= max(1, (len(rare) + 1) // 2)
        names, shared = names[enough], shared[enough]
        if len(names) > SHORTLIST:
            names = names[np.argpartition(-shared, SHORTLIST)[:SHORTLIST]]
        choices = [self.keys[i] for i in names.tolist()]
        best: dict[int, tuple[float, str]] = {}
        for choice, ratio, index in process.extract(key, choices, scorer=fuzz.ratio, limit=RERANK):
            firm_id = int(self.firm_ids[names[index]])
            score = self.name_score(key, choice, ratio)
            if firm_id not in best or score > best[firm_id][0]:
                best[firm_id] = (score, choice)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
        return [(firm_id, score, choice) for firm_id, (score, choice) in ranked]


def similarity(
    query_key: str, query_address: str, firm_key: str, firm_address: str, name_score: float, rules: AnnouncementRules
) -> float:
    """The candidate score (0–100) of a registered name for an announced one: the name score, less the
    branch penalty when one is a branch and the other is not (or another branch), blended with address
    similarity when both sides have an address."""
    score = name_score
    query_head, query_branch = split_branch(query_key)
    firm_head, firm_branch = split_branch(firm_key)
    if (query_branch or firm_branch) and (query_head, query_branch) != (firm_head, firm_branch):
        score -= rules.branch_penalty
    address, other = name_key(query_address), name_key(firm_address)
    if address and other and rules.address_weight:
        score = (1 - rules.address_weight) * score + rules.address_weight * fuzz.ratio(address, other)
    return round(max(score, 0.0), 1)


def rank_candidates(
    session: Session, queries: dict[str, str], rules: AnnouncementRules, *, index: CharacterIndex | None = None
) -> dict[str, list[dict]]:
    """Ranked candidates {firm_id, uscc, name, region, score} for each normalised name of `queries`
    (name key → the announced address), at least `candidate_min_score`, at most `candidate_count`."""
    if not queries:
        return {}
    index = index or CharacterIndex.of_register(session)
    shortlists = {key: index.search(key, rules.candidate_count * 4) for key in queries}
    wanted = {firm_id for found in shortlists.values() for firm_id, _, _ in found}
    firms: dict[int, tuple[str, str, str, str]] = {}
    ordered = sorted(wanted)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        for firm_id, uscc, name, address, region in session.exec(
            select(Firm.id, Firm.uscc, Firm.name, Firm.address, Firm.region).where(col(Firm.id).in_(chunk))
        ).all():
            firms[firm_id] = (uscc, name, address, region)  # type: ignore[index]
    ranked: dict[str, list[dict]] = {}
    for key, found in shortlists.items():
        scored = []
        for firm_id, name_score, spelling in found:
            uscc, name, address, region = firms[firm_id]
            score = similarity(key, queries[key], spelling, address, name_score, rules)
            if score >= rules.candidate_min_score:
                scored.append({"firm_id": firm_id, "uscc": uscc, "name": clean(name), "region": region, "score": score})
        scored.sort(key=lambda c: (-c["score"], c["firm_id"]))
        ranked[key] = scored[: rules.candidate_count]
    return ranked
