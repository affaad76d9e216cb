"""Legal pilot codes (试点代码): USCCs issued in a pilot before GB 32100-2015's check rules were applied
(e.g. Xiamen's `91350211M0000XUF46`), which fail a checksum rule but name a real firm. Each is accepted
only as an exception an admin records, with the reason and the document that shows the code is genuine."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from credit.models.base import utcnow


class PilotCode(SQLModel, table=True):
    """One code accepted although it fails a checksum rule; recorded by an admin (audited), never edited."""

    __tablename__ = "pilot_code"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=18, unique=True, index=True)
    failed_rule: str = Field(max_length=20)  # the checksum rule it fails (credit.uscc.CHECKSUM_RULES)
    reason: str = Field(max_length=500)
    document_basis: str = Field(max_length=200)  # the document that shows the code was lawfully issued
    recorded_by_id: int = Field(foreign_key="users.id")
    recorded_at: datetime = Field(default_factory=utcnow)
