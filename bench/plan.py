"""Benchmark: drawing a 双随机 plan over the whole city against plain queries over the same tables, in
the same run (docs/performance.md).

    BENCH_FIRMS=100000 [BENCH_DATABASE_URL=…] [BENCH_RUNS=3] python bench/plan.py

The database (default an SQLite file in bench/data/) is generated when it does not hold BENCH_FIRMS
firms: synthetic firms, each with a stored assessment valid for ever (grades about 10 % A, 60 % B, 25 % C,
5 % D, as after the nightly run) and a roster of 200 inspectors. Then, for BENCH_RUNS rounds, interleaved:

* `count`  — the baseline: `SELECT grade, COUNT(*) FROM assessment GROUP BY grade`;
* `fetch`  — a second baseline: every firm's uscc and stored grade in USCC order, every row fetched
  (the least a stratified draw in USCC order must read);
* `derive` — `derive_plan` (grades, the draw, inspectors with rotation), nothing written;
* `make`   — `make_plan` end to end (derive, store the plan and its firms, audit), rolled back after.

Medians and the ratios to each baseline are printed."""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CREDIT_TODAY", "2026-11-22")

from sqlalchemy import func, insert, select, text  # noqa: E402

from bench.benchdb import bench_url  # noqa: E402
from credit.db import make_engine, session_scope  # noqa: E402
from credit.models import Actor, Firm, FirmAssessment, Inspector  # noqa: E402
from credit.models.assessment import VALID_FOREVER  # noqa: E402

AS_OF = date(2026, 11, 22)
GRADE_WEIGHTS = {"A": 10, "B": 60, "C": 25, "D": 5}


def generate(engine, firms: int) -> None:
    """Firms, their stored assessments and a roster, by Core executemany in batches of 50,000."""
    from credit.migrate import upgrade_to_head
    from credit.services.rulesets import active_ruleset, ensure_default_ruleset

    upgrade_to_head(engine)
    with session_scope(engine, Actor(label="bench", source="cli")) as session:
        ensure_default_ruleset(session)
        version = active_ruleset(session).version
    rnd = random.Random(12)
    now = datetime.now(UTC)
    grades, weights = list(GRADE_WEIGHTS), list(GRADE_WEIGHTS.values())
    with engine.begin() as conn:
        for start in range(1, firms + 1, 50_000):
            ids = range(start, min(start + 50_000, firms + 1))
            conn.execute(
                insert(Firm.__table__),
                [
                    {"id": i, "uscc": f"91{rnd.randrange(10**16):016d}", "name": f"firm{i}", "legal_representative": "",
                     "address": "", "region": "南城街道", "industry": "C", "scale": "规上", "created_at": now,
                     "updated_at": now}
                    for i in ids
                ],
            )  # fmt: skip
            conn.execute(
                insert(FirmAssessment.__table__),
                [
                    {"firm_id": i, "as_of": date(2026, 11, 21), "score": 100, "grade": rnd.choices(grades, weights)[0],
                     "triggers": "", "red_eligible": False, "red_basis": "", "rule_set_version": version,
                     "computed_at": now, "valid_until": VALID_FOREVER, "last_negative_on": None}
                    for i in ids
                ],
            )  # fmt: skip
        conn.execute(
            insert(Inspector.__table__),
            [
                {"code": f"ZF{i:04d}", "name": f"检查员{i}", "unit": "", "active": True, "created_at": now,
                 "updated_at": now}
                for i in range(1, 201)
            ],
        )  # fmt: skip
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def timed(mode: str, engine) -> tuple[float, int]:
    from credit.services.plans import check_request, derive_plan, make_plan

    request = check_request("bench-2026-12", AS_OF)
    if mode in ("count", "fetch"):
        statement = (
            select(FirmAssessment.grade, func.count()).group_by(FirmAssessment.grade)
            if mode == "count"
            else select(Firm.uscc, FirmAssessment.grade).join(FirmAssessment).order_by(Firm.uscc)
        )
        with engine.connect() as conn:
            start = time.perf_counter()
            rows = sum(1 for _ in conn.execute(statement))
            return time.perf_counter() - start, rows
    with session_scope(engine, Actor(label="bench", source="cli")) as session:
        start = time.perf_counter()
        if mode == "derive":
            rows = len(derive_plan(session, request).firms)
        else:
            plan, _ = make_plan(session, request, created_by="bench")
            session.flush()
            rows = plan.firm_count
        elapsed = time.perf_counter() - start
        session.rollback()
    return elapsed, rows


def main() -> None:
    firms = int(os.environ.get("BENCH_FIRMS", "100000"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    url = bench_url(f"plan-{firms}")
    engine = make_engine(url)
    with engine.connect() as conn:
        try:
            have = conn.execute(text("SELECT COUNT(*) FROM firm")).scalar_one()
        except Exception:  # a new database: generate it
            have = -1
    if have != firms:
        print(f"generating {firms} firms into {url} …", flush=True)
        if have != -1:
            raise SystemExit(f"{url} holds {have} firms, not {firms}: remove it first")
        generate(engine, firms)
    modes = ("count", "fetch", "derive", "make")
    times: dict[str, list[float]] = {m: [] for m in modes}
    rows: dict[str, int] = {}
    for round_ in range(runs):
        for mode in modes:  # interleaved: each round measures every mode once
            elapsed, n = timed(mode, engine)
            times[mode].append(elapsed)
            rows[mode] = n
        print(f"round {round_ + 1}: " + ", ".join(f"{m} {times[m][-1]:.3f}s" for m in modes), flush=True)
    median = {m: statistics.median(times[m]) for m in modes}
    print(f"\n{engine.dialect.name}, {firms} firms, {runs} rounds (medians):")
    for m in modes:
        print(f"  {m:<7} {median[m]:8.3f} s  rows {rows[m]:>7}")
    for m in ("derive", "make"):
        print(f"  {m} / count = {median[m] / median['count']:.1f}×   {m} / fetch = {median[m] / median['fetch']:.2f}×")


if __name__ == "__main__":
    main()
