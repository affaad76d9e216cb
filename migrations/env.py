"""Alembic environment: SQLModel's metadata, batch mode on SQLite, the engine handed over by
credit.migrate (or built from DATABASE_URL when Alembic is run by hand)."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlmodel import SQLModel

import credit.models  # noqa: F401  (registers every table)
from config import Config
from credit.db import make_engine
from credit.models.firm import SEARCH_INDEX_OBJECTS

config = context.config
if config.config_file_name and not config.attributes.get("engine"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Autogenerate leaves the search index's own objects alone (migration 0009 keeps them)."""
    return name not in SEARCH_INDEX_OBJECTS


def run_migrations_offline() -> None:
    context.configure(
        url=Config.SQLALCHEMY_DATABASE_URI,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=Config.SQLALCHEMY_DATABASE_URI.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or make_engine(Config.SQLALCHEMY_DATABASE_URI)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
