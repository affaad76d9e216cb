"""Legal pilot codes (试点代码) as admin-recorded exceptions: a USCC that fails only a check character of
GB 32100-2015 / GB 11714 is accepted by the register, imports, events and checks once an admin has recorded
why (reason and document basis); the firm is then flagged wherever it is shown. Recording is audited by the
session hook like every write; an exception is never edited or deleted."""

from __future__ import annotations

from sqlmodel import Session, col, select

from credit.models import PilotCode, User
from credit.text import refuse_control_characters
from credit.uscc import CHECKSUM_RULES, PILOT_HINT, RULES, UsccError, validate_uscc

REASON_MAX = 500
BASIS_MAX = 200


class PilotCodeError(ValueError):
    """An exception that cannot be recorded (its message says why)."""


def checksum_failure(code: str) -> UsccError:
    """Why `code` needs an exception: its check-character failure. Raises PilotCodeError when the code
    passes every rule (no exception needed) or fails another rule (no exception possible)."""
    try:
        validate_uscc(code)
    except UsccError as exc:
        if exc.rule not in CHECKSUM_RULES:
            raise PilotCodeError(f"{exc.message}；只有校验位不符的试点代码可以登记为例外") from None
        return exc
    raise PilotCodeError(f"统一社会信用代码 {code} 符合 GB 32100-2015 全部规则，无须登记例外")


def record_pilot_code(session: Session, *, code: str, reason: str, document_basis: str, admin: User) -> PilotCode:
    """Record `code` as a legal pilot code (admins only; reason and document basis required; once per code)."""
    if not admin.has_role("admin"):
        raise PilotCodeError(f"{admin.username} 不是管理员，不能登记试点代码例外")
    code = (code or "").strip().upper()
    failure = checksum_failure(code)
    reason = " ".join(refuse_control_characters(reason or "").split())
    basis = " ".join(refuse_control_characters(document_basis or "").split())
    if not reason:
        raise PilotCodeError("须写明登记例外的理由")
    if not basis:
        raise PilotCodeError("须写明依据文件（如登记机关出具的证明文书号）")
    if len(reason) > REASON_MAX or len(basis) > BASIS_MAX:
        raise PilotCodeError(f"理由最多 {REASON_MAX} 字，依据最多 {BASIS_MAX} 字")
    if session.exec(select(PilotCode).where(PilotCode.code == code)).first() is not None:
        raise PilotCodeError(f"试点代码 {code} 已登记为例外")
    entry = PilotCode(
        code=code,
        failed_rule=failure.rule,
        reason=reason,
        document_basis=basis,
        recorded_by_id=admin.id,  # type: ignore[arg-type]
    )
    session.add(entry)
    session.flush()
    return entry


class PilotCodes:
    """The recorded pilot codes as a container for `validate_uscc(…, pilot_codes=…)`: asked only when a
    check character fails, so valid codes cost no query; each answer is kept for the session's work."""

    def __init__(self, session: Session):
        self._session = session
        self._known: dict[str, bool] = {}

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str):
            return False
        if code not in self._known:
            self._known[code] = is_pilot_code(self._session, code)
        return self._known[code]


def pilot_code_set(session: Session) -> frozenset[str]:
    """Every recorded pilot code (a handful in a city: read whole, for bulk validation)."""
    return frozenset(session.exec(select(PilotCode.code)).all())


def pilot_code(session: Session, code: str) -> PilotCode | None:
    return session.exec(select(PilotCode).where(PilotCode.code == code.strip())).first()


def is_pilot_code(session: Session, code: str) -> bool:
    return session.exec(select(PilotCode.id).where(PilotCode.code == code.strip())).first() is not None


def pilot_codes_among(session: Session, codes: list[str]) -> frozenset[str]:
    """Which of these codes are recorded pilot codes (for flagging a page of firms)."""
    if not codes:
        return frozenset()
    return frozenset(session.exec(select(PilotCode.code).where(col(PilotCode.code).in_(codes))).all())


def validate_code(session: Session, code: str) -> str:
    """`validate_uscc`, accepting a recorded pilot code (looked up only when a check character fails, so a
    valid code costs no query). The refusal of an unrecorded one says how to get an exception."""
    try:
        return validate_uscc(code)
    except UsccError as exc:
        if exc.rule in CHECKSUM_RULES and is_pilot_code(session, code):
            return code.strip()
        if exc.rule in CHECKSUM_RULES:
            raise UsccError(exc.rule, exc.message + PILOT_HINT) from None
        raise


def list_pilot_codes(session: Session) -> list[PilotCode]:
    return list(session.exec(select(PilotCode).order_by(col(PilotCode.recorded_at).desc())))


def rule_text(rule: str) -> str:
    return RULES.get(rule, rule)
