"""Grade history (评价结果历史): a firm's score and grade by assessment date, one row per change."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class GradeHistory(SQLModel, table=True):
    """One firm's score and grade from `as_of` on, as an assessment run found them. A run writes a row only
    for the firms whose grade or score differs from their latest row on or before its date
    (credit.services.grade_history): the table grows with changes, not with runs × firms. A firm's grade on
    a day D is its latest row with as_of ≤ D (by as_of, then id)."""

    __tablename__ = "grade_history"
    __table_args__ = (
        # "the latest row of a firm on or before D": one index range per firm
        Index("ix_grade_history_firm_as_of", "firm_id", "as_of", "id"),
        Index("ix_grade_history_as_of", "as_of"),
    )

    id: int | None = Field(default=None, primary_key=True)
    firm_id: int = Field(foreign_key="firm.id")
    as_of: date
    score: int
    grade: str = Field(max_length=1)
    rule_set_version: int
