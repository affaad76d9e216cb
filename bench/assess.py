"""Benchmark: the city-wide assessment against a plain `SELECT firm_id, SUM(points) … GROUP BY firm_id`
with the same filter (effective, occurred on or before the date), over the same credit_event table, in
the same run (SPEC §5: ≤ 3×, peak memory ≤ 1 GiB, at 1M firms × 10M events).

    BENCH_FIRMS=100000 [BENCH_EVENTS=1000000] [BENCH_DATABASE_URL=…] [BENCH_RUNS=3] python bench/assess.py

The database (default an SQLite file in bench/data/) is generated when it does not hold BENCH_FIRMS
firms: synthetic firms and BENCH_EVENTS (default 10 × firms) effective events over seven years. Then,
for BENCH_RUNS rounds, interleaved, each in a process of its own (so the peak memory printed is that of
the measurement, not of the generator):

* `plain`  — the plain GROUP BY with the same filter, every row fetched;
* `query`  — `assessment_query` (the SQL evaluator), every row fetched;
* `assess` — `assess_all` end to end, what `flask credit assess` runs: the assessment stored for every
  firm, black-list proposals and red listings made, audited; rolled back after, so each round starts
  from the same database.

Medians of the rounds and the ratios to `plain` are printed."""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from bench.benchdb import bench_url  # noqa: E402
from credit.db import make_engine  # noqa: E402
from credit.models import CreditEvent, Firm  # noqa: E402

DATA = ROOT / "bench" / "data"
AS_OF = date(2026, 10, 31)
TODAY = "2026-11-22"
WEIGHTS = {
    "spot_check_pass": 40, "spot_check_fail": 10, "rectified": 5, "spot_check_refused": 0.3, "penalty": 5,
    "serious_dishonesty": 0.2, "recall_voluntary": 1, "recall_ordered": 0.5, "complaint_substantiated": 8,
    "interview": 2, "false_test_data": 0.1, "award_national": 0.1, "award_provincial": 0.3, "award_municipal": 1,
    "famous_brand": 2, "certification": 8, "standard_leadership": 2, "cqo_appointed": 3, "cqo_left": 1,
    "credit_report": 5, "excellence_model": 2,
}  # fmt: skip
SEVERITIES = {"spot_check_fail": ("general", "serious"), "penalty": ("general", "heavy")}


def generate(engine, firms: int, events: int) -> None:
    """An empty database migrated to head, filled with `firms` firms and `events` effective events
    (Core executemany in batches of 50,000), statistics refreshed."""
    from credit.migrate import upgrade_to_head

    upgrade_to_head(engine)
    rnd = random.Random(6)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for start in range(1, firms + 1, 50_000):
            conn.execute(
                insert(Firm.__table__),
                [
                    {"id": i, "uscc": f"{i:018d}", "name": f"firm{i}", "legal_representative": "", "address": "",
                     "region": "南城街道", "industry": "C", "scale": "规上", "created_at": now, "updated_at": now}
                    for i in range(start, min(start + 50_000, firms + 1))
                ],
            )  # fmt: skip
    types, weights = list(WEIGHTS), list(WEIGHTS.values())
    batch = []
    for i in range(1, events + 1):
        kind = rnd.choices(types, weights)[0]
        on = date(2020, 1, 1) + timedelta(days=rnd.randrange(2555))
        batch.append(
            {"firm_id": rnd.randrange(1, firms + 1), "event_type": kind, "occurred_on": on, "document_no": f"D{i}",
             "authority": "x", "severity": rnd.choice(SEVERITIES[kind]) if kind in SEVERITIES else None,
             "amount": None, "product": "", "description": "", "person_name": "", "certificate_no": "",
             "valid_until": on + timedelta(days=1095) if kind in ("famous_brand", "certification") else None,
             "correction_reason": "", "status": "effective", "source": "import", "recorded_at": now,
             "review_note": "", "revoke_reason": "", "failed_item": "", "failed_result": "", "failed_limit": ""}
        )  # fmt: skip
        if len(batch) == 50_000 or i == events:
            with engine.begin() as conn:
                conn.execute(insert(CreditEvent.__table__), batch)
            batch = []
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


# One measurement, in a process of its own: prints the seconds, the rows and the process's peak RSS.
MEASURE = """
import sys, time
from bench.benchdb import peak_rss_kib
from datetime import date
from sqlalchemy import and_, case, func, select
from credit.db import make_engine, session_scope
from credit.models import Actor
from credit.rules.ruleset import default_ruleset
from credit.rules.sql import assessment_query, credit_event

mode, url, as_of = sys.argv[1], sys.argv[2], date.fromisoformat(sys.argv[3])
engine = make_engine(url)
rules = default_ruleset()
if mode == "assess":
    from credit.services.assessment import assess_all

    with session_scope(engine, Actor(label="bench", source="cli")) as session:
        start = time.perf_counter()
        run = assess_all(session, as_of=as_of)
        session.flush()
        elapsed = time.perf_counter() - start
        session.rollback()
    rows = run.firms
    detail = f"proposed={run.black_proposed},red={run.red_listed}"
else:
    if mode == "plain":
        whens = [
            (credit_event.c.event_type == t if s is None
             else and_(credit_event.c.event_type == t, credit_event.c.severity == s), r.points)
            for (t, s), r in rules.points.items() if r.points
        ]
        statement = (
            select(credit_event.c.firm_id, func.sum(case(*whens, else_=0)))
            .where(credit_event.c.status == "effective", credit_event.c.occurred_on <= as_of)
            .group_by(credit_event.c.firm_id)
        )
    else:
        statement = assessment_query(rules, as_of)
    with engine.connect() as conn:
        start = time.perf_counter()
        rows = sum(1 for _ in conn.execution_options(stream_results=True, yield_per=10000).execute(statement))
        elapsed = time.perf_counter() - start
    detail = ""
print("MEASURE", elapsed, rows, peak_rss_kib(), detail)
"""


def measure(mode: str, url: str) -> tuple[float, int, float, str]:
    env = {**os.environ, "CREDIT_TODAY": TODAY, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, mode, url, AS_OF.isoformat()],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed: {done.stderr[-3000:]}")
    parts = next(line for line in done.stdout.splitlines() if line.startswith("MEASURE")).split()
    return float(parts[1]), int(parts[2]), int(parts[3]) / 1024, parts[4] if len(parts) > 4 else ""


def main() -> None:
    firms = int(os.environ.get("BENCH_FIRMS", "100000"))
    events = int(os.environ.get("BENCH_EVENTS", str(10 * firms)))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    url = bench_url(f"assess_{firms}_{events}")
    engine = make_engine(url)
    DATA.mkdir(parents=True, exist_ok=True)
    try:
        with engine.connect() as conn:
            present = conn.execute(select(func.count()).select_from(CreditEvent.__table__)).scalar()
    except Exception:  # no schema yet
        present = None
    if present != events:
        if present:
            raise SystemExit(f"{url} holds {present} events, not {events}: point BENCH_DATABASE_URL elsewhere")
        print(f"generating {firms} firms × {events} events …", flush=True)
        started = time.perf_counter()
        generate(engine, firms, events)
        print(f"  generated in {time.perf_counter() - started:.0f}s", flush=True)
    init = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "credit", "init"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if init.returncode != 0:
        raise SystemExit(init.stderr)
    engine.dispose()
    times: dict[str, list[float]] = {"plain": [], "query": [], "assess": []}
    peaks: dict[str, float] = dict.fromkeys(times, 0.0)
    print(f"assess bench: {engine.dialect.name}, {firms} firms × {events} events, load {os.getloadavg()[0]:.1f}")
    for round_ in range(1, runs + 1):
        for mode in times:
            elapsed, rows, peak, detail = measure(mode, url)
            times[mode].append(elapsed)
            peaks[mode] = max(peaks[mode], peak)
            print(f"  round {round_} {mode}: {elapsed:.2f}s, {rows} rows, peak RSS {peak:.0f} MiB {detail}", flush=True)
    plain, query, assess = (statistics.median(times[m]) for m in ("plain", "query", "assess"))
    print(f"RESULT assess {engine.dialect.name} {firms} firms × {events} events: plain GROUP BY {plain:.2f}s, "
          f"assessment_query {query:.2f}s ({query / plain:.2f}×), assess_all end to end {assess:.2f}s "
          f"({assess / plain:.2f}×; bar ≤ 3×), peak RSS query {peaks['query']:.0f} MiB, "
          f"assess {peaks['assess']:.0f} MiB (bar ≤ 1 GiB), load {os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
