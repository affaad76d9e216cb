"""Benchmark: importing an events file against raw `executemany` of the same rows (SPEC §5: the import
reaches ≥ 20 % of the rows/s of raw executemany; issue 10: peak memory ≤ 500 MiB for 1M rows).

    BENCH_FIRMS=100000 BENCH_ROWS=100000 BENCH_DATABASE_URL=sqlite:///bench/data/import.db python bench/import.py

Generates (once per database) a register of BENCH_FIRMS firms and a CSV of BENCH_ROWS event rows over
them. Then, interleaved for BENCH_RUNS rounds (default 3): the baseline — the same rows, already parsed,
inserted with one Core `executemany` per 2,000 rows — and the system — `flask credit import-events FILE
--by recorder --approve-as reviewer` — `import_events(…, approve_as=…)` and its commit in a process of
its own (reading, validating, inserting, approving, re-assessing, auditing), with that process's peak
RSS; the process's wall time, Flask start-up aside, is printed too. Each starts from its own fresh copy of the prepared
database (credit events are never deleted). Prints the medians and the ratio."""

from __future__ import annotations

import csv
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.benchdb import bench_url  # noqa: E402
from credit.db import make_engine  # noqa: E402
from credit.models import CreditEvent, Firm, User  # noqa: E402
from credit.uscc import org_code_check_char, uscc_check_char  # noqa: E402

DATA = ROOT / "bench" / "data"
TODAY = date(2026, 11, 22)
TYPES = [
    ("spot_check_pass", None, 40), ("spot_check_fail", "general", 8), ("spot_check_fail", "serious", 2),
    ("penalty", "general", 4), ("penalty", "heavy", 0.5), ("complaint_substantiated", None, 8),
    ("interview", None, 2), ("certification", None, 8), ("award_municipal", None, 1), ("credit_report", None, 5),
    ("standard_leadership", None, 2), ("excellence_model", None, 2), ("recall_voluntary", None, 1),
]  # fmt: skip
HEADER = ["uscc", "event_type", "occurred_on", "document_no", "authority", "severity", "amount", "product",
          "valid_until", "description"]  # fmt: skip


def uscc(i: int) -> str:
    body = f"{i:08d}"
    first17 = "91441900" + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


def generate(engine, firms: int, rows: int, path: Path) -> None:
    """A migrated database with `firms` firms and two users, and a CSV of `rows` new event rows."""
    from credit.migrate import upgrade_to_head

    upgrade_to_head(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(Firm.__table__)).scalar() != firms:
            conn.execute(delete(Firm.__table__))
            for start in range(1, firms + 1, 50_000):
                conn.execute(
                    insert(Firm.__table__),
                    [
                        {"uscc": uscc(i), "name": f"东莞市基准{i}有限公司", "legal_representative": "", "address": "",
                         "region": "南城街道", "industry": "C39", "scale": "规下", "created_at": now, "updated_at": now}
                        for i in range(start, min(start + 50_000, firms + 1))
                    ],
                )  # fmt: skip
        for name, role in (("recorder", "recorder"), ("reviewer", "reviewer")):
            if conn.execute(select(User.__table__.c.id).where(User.__table__.c.username == name)).first() is None:
                conn.execute(insert(User.__table__), [{"username": name, "display_name": name, "role": role,
                                                       "password_hash": "!", "is_active": True, "department": "", "session_epoch": 0,
                                                       "created_at": now}])  # fmt: skip
    if path.exists():
        return
    rnd = random.Random(10)
    kinds, weights = [t[:2] for t in TYPES], [t[2] for t in TYPES]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for n in range(rows):
            kind, severity = rnd.choices(kinds, weights)[0]
            on = TODAY - timedelta(days=rnd.randrange(1, 1500))
            amount = str(rnd.choice((5000, 20000, 120000))) if kind == "penalty" else ""
            valid = (on + timedelta(days=1095)).isoformat() if kind == "certification" else ""
            writer.writerow([uscc(rnd.randrange(1, firms + 1)), kind, on.isoformat(), f"东市监〔{on.year}〕{n:07d}号",
                             "东莞市市场监督管理局", severity or "", amount, "电热水壶", valid, ""])  # fmt: skip


def baseline_rows(path: Path, firm_ids: dict[str, int], now: datetime) -> list[dict]:
    """The file's rows as the raw insert takes them: parsed already, firm ids resolved (not timed)."""
    rows = []
    with path.open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows.append(
                {"firm_id": firm_ids[r["uscc"]], "event_type": r["event_type"],
                 "occurred_on": date.fromisoformat(r["occurred_on"]), "document_no": r["document_no"],
                 "authority": r["authority"], "severity": r["severity"] or None, "amount": r["amount"] or None,
                 "product": r["product"], "description": "", "person_name": "", "certificate_no": "",
                 "valid_until": date.fromisoformat(r["valid_until"]) if r["valid_until"] else None,
                 "correction_reason": "", "status": "pending", "source": "import", "recorded_at": now,
                 "review_note": "", "revoke_reason": "", "failed_item": "", "failed_result": "", "failed_limit": ""}
            )  # fmt: skip
    return rows


def raw_insert(engine, rows: list[dict]) -> float:
    start = time.perf_counter()
    with engine.begin() as conn:
        for i in range(0, len(rows), 2000):
            conn.execute(insert(CreditEvent.__table__), rows[i : i + 2000])
    return time.perf_counter() - start


IMPORT_SCRIPT = """
import sys, time
from bench.benchdb import peak_rss_kib
from credit.db import make_engine, session_scope
from credit.models import Actor
from credit.services.event_import import import_events
from credit.services.users import get_user

engine = make_engine(sys.argv[1])
with session_scope(engine, Actor(label="recorder", source="cli")) as session:
    recorder, reviewer = get_user(session, "recorder"), get_user(session, "reviewer")
    session.info["actor"] = Actor(label="recorder", source="cli", user_id=recorder.id)
    start = time.perf_counter()
    report = import_events(session, sys.argv[2], recorder=recorder, approve_as=reviewer)
    assert report.ok, report.errors[:5]
    session.commit()
    elapsed = time.perf_counter() - start
print("IMPORT", elapsed, report.created, report.approved, peak_rss_kib())
"""


def system_import(url: str, path: Path) -> tuple[float, float, float, str]:
    """`import_events` with `approve_as` and its commit, in a process of its own (the CLI's work without
    Flask's start-up): time of the call, wall time of the process, and that process's peak RSS (MiB)."""
    env = {**os.environ, "CREDIT_TODAY": TODAY.isoformat(), "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT, url, str(path)], cwd=ROOT, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr[-2000:]}")
    _, elapsed, created, approved, peak = next(
        line for line in done.stdout.splitlines() if line.startswith("IMPORT")
    ).split()
    return float(elapsed), wall, int(peak) / 1024, f"created {created}, approved {approved}"


def fresh_copy(url: str, engine) -> str:
    """A copy of the prepared database for one side of one round (the register and users only): credit
    events and the audit log are never deleted, so every measurement starts from its own copy."""
    engine.dispose()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        source = Path(parsed.database)
        target = source.with_name(source.stem + "-work.db")
        with sqlite3.connect(source) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for suffix in ("", "-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        shutil.copyfile(source, target)
        return str(parsed.set(database=str(target)))
    work = f"{parsed.database}_work"
    server = make_engine(str(parsed.set(database="postgres")))
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{work}"'))
        conn.execute(text(f'CREATE DATABASE "{work}" TEMPLATE "{parsed.database}"'))
    server.dispose()
    return parsed.set(database=work).render_as_string(hide_password=False)


def main() -> None:
    firms = int(os.environ.get("BENCH_FIRMS", "100000"))
    rows = int(os.environ.get("BENCH_ROWS", "100000"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    url = bench_url(f"import_{firms}")
    engine = make_engine(url)
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"events-{firms}-{rows}.csv"
    generate(engine, firms, rows, path)
    with engine.connect() as conn:
        firm_ids = dict(conn.execute(select(Firm.__table__.c.uscc, Firm.__table__.c.id)).all())
    ensure = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "credit", "init"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if ensure.returncode != 0:
        raise SystemExit(ensure.stderr)
    base = baseline_rows(path, firm_ids, datetime.now(UTC))
    del firm_ids
    raw_times, system_times, walls, peaks = [], [], [], []
    print(f"import bench: {engine.dialect.name}, {firms} firms, {rows} rows, load {os.getloadavg()[0]:.1f}")
    for round_ in range(1, runs + 1):
        work = make_engine(fresh_copy(url, engine))
        raw_times.append(raw_insert(work, base))
        work.dispose()
        elapsed, wall, peak, summary = system_import(fresh_copy(url, engine), path)
        system_times.append(elapsed)
        walls.append(wall)
        peaks.append(peak)
        print(f"  round {round_}: raw executemany {raw_times[-1]:.2f}s, import_events {elapsed:.2f}s "
              f"(process {wall:.2f}s, peak RSS {peak:.0f} MiB) — {summary}", flush=True)  # fmt: skip
    raw, system = statistics.median(raw_times), statistics.median(system_times)
    print(f"RESULT import {engine.dialect.name} {firms} firms × {rows} rows: raw {rows / raw:,.0f} rows/s "
          f"({raw:.2f}s), import_events {rows / system:,.0f} rows/s ({system:.2f}s), "
          f"ratio {raw / system:.1%} (bar ≥ 20%; whole process {raw / statistics.median(walls):.1%}), peak RSS {max(peaks):.0f} MiB (bar ≤ 500 MiB at 1M), "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
