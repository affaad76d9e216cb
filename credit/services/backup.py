"""Backup and restore of the whole database, consistent while the app keeps writing (docs/operations.md).

- SQLite: the online backup API (`sqlite3.Connection.backup`) copies every page in one step, inside one
  read transaction: a snapshot at one commit, taken while web workers write (WAL: the writer is never
  blocked). The copy is one self-contained file (rollback journal, no -wal beside it).
- PostgreSQL: `pg_dump -Fc` inside a REPEATABLE READ transaction that exported its snapshot
  (`pg_dump --snapshot`), so the counts and the audit chain head printed are exactly those of the dump;
  `pg_restore --single-transaction --exit-on-error` into a new, empty database.

A backup never overwrites a file; a restore reads the backup's audit chain first and refuses one that does
not verify. pg_dump/pg_restore run with an argument list, never through a shell. Neither needs Flask: the
CLI (`flask credit backup|restore`) is a thin wrapper."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess  # nosec B404
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import URL
from sqlmodel import Session

from credit.db import busy_timeout, connect_timeout, is_sqlite
from credit.services.integrity import ChainReport, verify_audit_chain

# What a backup report counts (table → label); the test of the round trip compares them.
COUNTED = {"firm": "企业", "credit_event": "信用事件", "audit_log": "审计日志", "publication": "发布"}


class BackupError(Exception):
    """A backup or restore that cannot be done; nothing was written (the message says why)."""


@dataclass(frozen=True)
class BackupReport:
    """What a backup holds: rows per counted table and the audit chain as verified in it."""

    path: Path
    counts: dict[str, int]
    chain: ChainReport

    def summary(self) -> str:
        counts = "，".join(f"{COUNTED[table]} {n}" for table, n in self.counts.items())
        return f"{counts}；审计链头 {self.chain.head}（{self.chain.entries} 条）"


def database_counts(bind: Connection | Session) -> dict[str, int]:
    """Rows of each counted table."""
    # The table names are the constant keys of COUNTED, never input.
    return {table: int(bind.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()) for table in COUNTED}  # nosec B608


def _report(path: Path, bind: Connection) -> BackupReport:
    with Session(bind=bind) as session:
        chain = verify_audit_chain(session)
        counts = database_counts(session)
    return BackupReport(path, counts, chain)


def _refuse_existing(target: Path) -> None:
    if target.exists() or target.is_symlink():
        raise BackupError(f"{target} 已存在：备份不覆盖已有文件，请换一个文件名")
    if not target.parent.is_dir():
        raise BackupError(f"目录 {target.parent} 不存在")


def _publish(partial: Path, target: Path) -> None:
    """Move a finished backup to its name, atomically and never over a file that appeared meanwhile."""
    try:
        os.link(partial, target)
    except FileExistsError:
        raise BackupError(f"{target} 已存在：备份不覆盖已有文件，请换一个文件名") from None
    finally:
        partial.unlink(missing_ok=True)


def sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("内存中的 SQLite 数据库无法备份")
    return Path(database)


@contextmanager
def _sqlite_file(path: Path) -> Iterator[Connection]:
    """A plain connection to an SQLite file (no pragmas: reading leaves its journal mode as it is)."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def inspect_sqlite_backup(path: Path) -> BackupReport:
    """Open a backup file read-only: SQLite's integrity check, then the counts and the audit chain."""
    if not path.is_file():
        raise BackupError(f"备份文件 {path} 不存在")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} 不是可用的 SQLite 数据库：{exc}") from None
    if not result or result[0] != "ok":
        raise BackupError(f"{path} 未通过 SQLite 完整性检查：{result[0] if result else '无结果'}")
    if not set(COUNTED) | {"alembic_version"} <= tables:
        raise BackupError(f"{path} 不是本系统的数据库备份（缺少数据表）")
    with _sqlite_file(path) as bound:
        return _report(path, bound)


def backup_sqlite(engine: Engine, target: Path) -> BackupReport:
    """Copy the SQLite database of `engine` into the new file `target` with the online backup API; the
    report is read from the copy, i.e. the database as it was at the backup's one commit."""
    source = sqlite_path(engine)
    _refuse_existing(target)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=busy_timeout())
    try:
        dst = sqlite3.connect(partial)
        try:
            # pages=-1 (all in one step): one read transaction, so one consistent snapshot. Stepwise copying
            # would start over whenever another connection writes, and might never end under steady writes.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # the backup is one file, no -wal beside it
        finally:
            dst.close()
    finally:
        src.close()
    os.chmod(partial, 0o600)  # the records of firms and staff accounts: readable by the app's user only
    report = inspect_sqlite_backup(partial)
    _publish(partial, target)
    return BackupReport(target, report.counts, report.chain)


def _has_tables(bind: Engine | Connection) -> bool:
    return bool(inspect(bind).get_table_names())


def restore_sqlite(engine: Engine, backup: Path, *, replace: bool = False) -> BackupReport:
    """Replace the SQLite database of `engine` with the backup file `backup`, after checking it (integrity,
    tables, audit chain). A database that holds tables is only replaced with `replace`."""
    target = sqlite_path(engine)
    report = inspect_sqlite_backup(backup)
    if not report.chain.ok:
        raise BackupError(f"备份中的审计日志校验失败：{report.chain.failure}；未恢复")
    if target.exists() and _has_tables(engine) and not replace:
        raise BackupError(f"{target} 已有数据：确认要以备份替换它时加 --replace（先停止网站和调度进程）")
    engine.dispose()  # no pooled connection of ours keeps the old pages
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target, timeout=busy_timeout())
        try:
            src.backup(dst, pages=-1)  # one write transaction on the target: all of the backup or nothing
        finally:
            dst.close()
    finally:
        src.close()
    with engine.connect() as conn:
        return _report(target, conn)


# --- PostgreSQL ---------------------------------------------------------------------------------------


def pg_program(name: str) -> str:
    """`pg_dump` / `pg_restore`: from `PG_BIN_DIR` when set, else from PATH."""
    if bin_dir := os.environ.get("PG_BIN_DIR"):
        return str(Path(bin_dir) / name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"找不到 {name}：请安装 PostgreSQL 客户端程序，或设置 PG_BIN_DIR")
    return found


def libpq_environment(url: URL) -> dict[str, str]:
    """The connection as libpq environment variables: the password never appears on a command line (where
    `ps` would show it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") or k == "PG_BIN_DIR"}
    parts = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    env.update({k: str(v) for k, v in parts.items() if v})
    env["PGCONNECT_TIMEOUT"] = str(connect_timeout())
    for key, value in url.query.items():  # sslmode=require, sslrootcert=… pass through
        if isinstance(value, str) and key.startswith("ssl"):
            env[f"PG{key.upper()}"] = value
    return env


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} 失败（{result.returncode}）：{result.stderr.strip()[:2000]}")


def backup_postgresql(engine: Engine, target: Path) -> BackupReport:
    """`pg_dump -Fc` of the database of `engine` into the new file `target`, in a snapshot exported by a
    REPEATABLE READ transaction that also counts the rows and walks the audit chain: the report is the
    dump's own point in time."""
    _refuse_existing(target)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    env = libpq_environment(engine.url)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            report = _report(target, conn)
            command = [pg_program("pg_dump"), "--format=custom", f"--snapshot={snapshot}", f"--file={partial}"]
            try:
                _run(command, env)
            except BackupError:
                partial.unlink(missing_ok=True)
                raise
    os.chmod(partial, 0o600)
    _publish(partial, target)
    return report


def restore_postgresql(engine: Engine, backup: Path) -> BackupReport:
    """`pg_restore` of the dump `backup` into the (new, empty) database of `engine`, in one transaction:
    all of it or nothing. A database that holds tables is refused: restore into a new database, then point
    DATABASE_URL at it."""
    if not backup.is_file():
        raise BackupError(f"备份文件 {backup} 不存在")
    if _has_tables(engine):
        raise BackupError(
            f"数据库 {engine.url.database} 已有数据表：请恢复到一个新建的空数据库，再把 DATABASE_URL 指向它"
        )
    command = [
        pg_program("pg_restore"),
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-privileges",
        f"--dbname={engine.url.database}",
        str(backup),
    ]
    _run(command, libpq_environment(engine.url))
    engine.dispose()
    with engine.connect() as conn:
        return _report(backup, conn)


def backup_database(engine: Engine, target: Path) -> BackupReport:
    """A consistent backup of the database into the new file `target` (SQLite file or pg_dump archive)."""
    return backup_sqlite(engine, target) if is_sqlite(engine) else backup_postgresql(engine, target)


def restore_database(engine: Engine, backup: Path, *, replace: bool = False) -> BackupReport:
    """Restore the backup `backup` into the database of `engine` (see restore_sqlite, restore_postgresql)."""
    if is_sqlite(engine):
        return restore_sqlite(engine, backup, replace=replace)
    if replace:
        raise BackupError("PostgreSQL 不支持 --replace：请恢复到一个新建的空数据库，再把 DATABASE_URL 指向它")
    return restore_postgresql(engine, backup)
