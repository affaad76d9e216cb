"""The database a benchmark runs on: one per script, derived from BENCH_DATABASE_URL (default: SQLite
files in bench/data/), so that scripts sharing one URL never see each other's data.

* SQLite `sqlite:///dir/x.db` → `dir/x-<name>.db`;
* PostgreSQL `postgresql://…/db` → database `db_<name>` on the same server, created when missing.

The URL is normalised as the app does it (`postgresql://` → psycopg 3)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import normalise_database_url

DATA = Path(__file__).resolve().parent / "data"


def bench_url(name: str) -> str:
    """The URL of this benchmark's own database."""
    given = os.environ.get("BENCH_DATABASE_URL", "")
    if not given:
        DATA.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{DATA / f'{name}.db'}"
    url = make_url(normalise_database_url(given))
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or str(DATA / "bench.db"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(url.set(database=str(path.with_name(f"{path.stem}-{name}{path.suffix or '.db'}"))))
    database = f"{url.database}_{name}"
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
    server.dispose()
    return url.set(database=database).render_as_string(hide_password=False)


def peak_rss_kib() -> int:
    """This process's own peak resident memory in KiB: VmHWM on Linux. Not `ru_maxrss`, which Linux carries
    over an exec from the parent (a vfork child inherits the high-water mark of the benchmark that holds
    its baseline rows: the 1M import measured 1,029 MiB that way, 145 MiB in fact)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
