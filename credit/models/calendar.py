"""The official working-day calendar: one version of one year's statutory holidays and make-up working
days per row. Versions are never changed once saved (the database refuses it); the newest is in force."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from credit.models.base import JSONDoc, utcnow


class CalendarYear(SQLModel, table=True):
    """One year's calendar as published (国务院办公厅关于 YYYY 年部分节假日安排的通知)."""

    __tablename__ = "calendar_year"
    __table_args__ = (UniqueConstraint("year", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    version: int
    holidays: list[Any] = Field(sa_column=Column(JSONDoc, nullable=False))  # ISO dates off work
    workdays: list[Any] = Field(sa_column=Column(JSONDoc, nullable=False))  # ISO weekend dates at work
    source: str = Field(max_length=300)  # the notice or package it was taken from
    note: str = Field(default="", max_length=1000)
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow)
