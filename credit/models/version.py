"""The configuration version (配置版本号): one row counting changes to what web workers cache per
process — the active rule set and the API keys. Database triggers bump it on every such change
(migration 0008), whichever client writes, so a cache that reads it once per request is never stale."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

CONFIG_ROW = 1


class ConfigVersion(SQLModel, table=True):
    """Row 1 holds the counter; a missing row reads as version 0."""

    __tablename__ = "config_version"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int = 0
