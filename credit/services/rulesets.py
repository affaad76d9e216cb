"""Rule-set versions: the default loaded on first start, new versions saved by admins, one active."""

from __future__ import annotations

import difflib
import json

from sqlmodel import Session, col, func, select

from credit.models import RuleSetVersion, utcnow
from credit.rules.ruleset import DEFAULT_PATH, RuleSet, RuleSetError, load_document, parse_ruleset

# Parsed versions, by (number, creation time): a version never changes once saved, and the time tells
# apart two databases' versions of the same number (tests, a restored backup) in one process.
_cache: dict[tuple[int, object], RuleSet] = {}


def ensure_default_ruleset(session: Session, created_by: str = "system") -> RuleSetVersion:
    """Version 1 from the repository's default file, active, when no version exists yet (idempotent)."""
    existing = session.exec(select(RuleSetVersion).order_by(RuleSetVersion.version)).first()
    if existing is not None:
        return existing
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    ruleset = parse_ruleset(load_document(text))
    version = RuleSetVersion(
        version=1,
        name=ruleset.name,
        document=ruleset.document,
        source_text=text,
        note="默认规则集",
        created_by=created_by,
        active=True,
        activated_at=utcnow(),
    )
    session.add(version)
    session.flush()
    return version


def ruleset_of(row: RuleSetVersion) -> RuleSet:
    """The parsed rules of a stored version (parsed once per process: versions never change)."""
    key = (row.version, row.created_at)
    cached = _cache.get(key)
    if cached is None:
        cached = parse_ruleset(row.document, version=row.version)
        _cache[key] = cached
    return cached


def get_version(session: Session, version: int) -> RuleSetVersion | None:
    return session.get(RuleSetVersion, version)


def active_version(session: Session) -> RuleSetVersion:
    """The version in force; the default is created if the database has none yet."""
    row = session.exec(select(RuleSetVersion).where(col(RuleSetVersion.active).is_(True))).first()
    return row if row is not None else ensure_default_ruleset(session)


def active_ruleset(session: Session) -> RuleSet:
    """The rules in force."""
    return ruleset_of(active_version(session))


def save_version(session: Session, text: str, *, note: str, created_by: str) -> RuleSetVersion:
    """Check a rule-set document (TOML or JSON) and store it as the next version, not yet active."""
    document = load_document(text)
    ruleset = parse_ruleset(document)
    number = (session.exec(select(func.max(RuleSetVersion.version))).one() or 0) + 1
    row = RuleSetVersion(
        version=number,
        name=ruleset.name or f"规则集 v{number}",
        document=document,
        source_text=text,
        note=note.strip()[:1000],
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row


def activate_version(session: Session, version: int) -> RuleSetVersion:
    """Put a version in force (the previous one steps down). The caller re-assesses every firm."""
    row = session.get(RuleSetVersion, version)
    if row is None:
        raise RuleSetError(f"没有规则集版本 {version}")
    current = session.exec(select(RuleSetVersion).where(col(RuleSetVersion.active).is_(True))).first()
    if current is not None and current.version == version:
        return row
    if current is not None:
        current.active = False
        session.add(current)
        session.flush()  # the unique index allows one active version at a time
    row.active = True
    row.activated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def pretty(document: dict) -> list[str]:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).splitlines()


def diff_versions(old: RuleSetVersion, new: RuleSetVersion) -> list[str]:
    """A unified diff of two versions' documents (keys sorted, so only real changes show)."""
    return list(
        difflib.unified_diff(
            pretty(old.document), pretty(new.document), f"v{old.version}", f"v{new.version}", lineterm=""
        )
    )
