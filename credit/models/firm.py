"""The firm register (市场主体), keyed by the 统一社会信用代码."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationInfo, field_validator
from sqlmodel import Field, SQLModel

from credit.models.base import utcnow
from credit.reference import REGIONS, validate_industry, validate_scale
from credit.text import refuse_control_characters
from credit.uscc import CHECKSUM_RULES, PILOT_HINT, UsccError, validate_uscc

FIRM_FIELDS = ("uscc", "name", "legal_representative", "address", "region", "industry", "scale")


class FirmBase(SQLModel):
    """What a firm is, as registered."""

    uscc: str = Field(min_length=18, max_length=18, unique=True, index=True)
    name: str = Field(min_length=2, max_length=200, index=True)
    legal_representative: str = Field(default="", max_length=50)
    address: str = Field(default="", max_length=300)
    region: str = Field(max_length=50, index=True)
    industry: str = Field(max_length=3, index=True)
    scale: str = Field(max_length=4)


class Firm(FirmBase, table=True):
    """A firm's row in the register. Validated through FirmCreate before it is written."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class FirmCreate(FirmBase):
    """A validated firm, from a form, an import row or the API."""

    @field_validator("uscc", mode="before")
    @classmethod
    def _uscc(cls, value: object, info: ValidationInfo) -> str:
        # The recorded legal pilot codes (credit.services.pilot_codes) come in the validation context:
        # `FirmCreate.model_validate(data, context={"pilot_codes": …})`.
        pilot_codes = (info.context or {}).get("pilot_codes", ())
        try:
            return validate_uscc(str(value or ""), pilot_codes=pilot_codes)
        except UsccError as exc:
            if exc.rule in CHECKSUM_RULES:
                raise UsccError(exc.rule, exc.message + PILOT_HINT) from None
            raise

    @field_validator("name", "legal_representative", "address", "region", mode="before")
    @classmethod
    def _strip(cls, value: object) -> str:
        return " ".join(refuse_control_characters(str(value or "")).split())

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if value not in REGIONS:
            raise ValueError(f"所属镇街「{value}」不在本市区划名录中")
        return value

    @field_validator("industry", mode="before")
    @classmethod
    def _industry(cls, value: object) -> str:
        return validate_industry(str(value or "").strip())

    @field_validator("scale", mode="before")
    @classmethod
    def _scale(cls, value: object) -> str:
        return validate_scale(str(value or "").strip())


# Database objects of the name search that the models do not describe (migration 0009; docs/architecture.md):
# SQLite's FTS5 trigram table over firm.name with its shadow tables, PostgreSQL's pg_trgm index and its
# index in code-point order. The schema comparison of tests/test_migrations.py leaves them out.
SEARCH_INDEX_OBJECTS = frozenset(
    {
        "firm_name_fts",
        "firm_name_fts_data",
        "firm_name_fts_idx",
        "firm_name_fts_docsize",
        "firm_name_fts_config",
        "ix_firm_name_trgm",
        "ix_firm_name_c",
    }
)
