"""双随机 supervision plans: the inspector roster, each plan as drawn (seed, filters, the data it ran on)
and the firms it chose with their inspectors. Plans and their firms are append-only (the database refuses
UPDATE and DELETE, migration 0017), so a plan can always be re-derived and compared (docs/supervision-plan.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from credit.models.base import JSONDoc, utcnow


class Inspector(SQLModel, table=True):
    """One law-enforcement officer on the roster (执法人员名录), keyed by the number of their
    enforcement certificate (执法证号). Deactivated, never deleted: past plans name them."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=30, unique=True, index=True)
    name: str = Field(max_length=50)
    unit: str = Field(default="", max_length=100)  # 所属单位 / 科室
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class SupervisionPlan(SQLModel, table=True):
    """One plan as drawn: its inputs (seed, as-of date, filters, rule set and the fingerprints of the
    graded firms, the roster and the inspection history it saw) and what it chose per grade. The same
    inputs give the same plan (credit.services.plans.derive_plan)."""

    __tablename__ = "supervision_plan"

    id: int | None = Field(default=None, primary_key=True)
    seed: str = Field(max_length=100, index=True)
    as_of: date
    region: str = Field(default="", max_length=50)
    industry: str = Field(default="", max_length=3)
    rule_set_version: int
    rates: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))  # grade -> rate, as drawn
    inspectors_per_firm: int
    grades: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))  # grade -> {eligible, chosen}
    firm_count: int
    # The data version the plan ran on: SHA-256 of the graded firms (uscc:grade in USCC order), of the
    # active roster, and of the prior inspections it avoided; plus the audit head when it was drawn.
    firms_digest: str = Field(max_length=64)
    roster_digest: str = Field(max_length=64)
    history_digest: str = Field(max_length=64)
    audit_entry_id: int | None = None
    digest: str = Field(max_length=64)  # SHA-256 of the plan's chosen firms and inspectors
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow)


class PlanFirm(SQLModel, table=True):
    """One firm chosen by a plan, with its grade as of the plan's date and the inspectors drawn for it
    (their certificate numbers, comma-separated in draw order). Copied, so later changes alter nothing."""

    __tablename__ = "plan_firm"
    __table_args__ = (
        UniqueConstraint("plan_id", "position", name="uq_plan_firm_plan_id"),
        # "The inspectors of this firm's last plan" (credit.services.plans): newest plan first per firm.
        Index("ix_plan_firm_firm_id_plan_id", "firm_id", "plan_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="supervision_plan.id")
    position: int
    firm_id: int = Field(foreign_key="firm.id")
    uscc: str = Field(max_length=18)
    name: str = Field(max_length=200)
    region: str = Field(max_length=50)
    industry: str = Field(max_length=3)
    grade: str = Field(max_length=1)
    inspectors: str = Field(max_length=400)
