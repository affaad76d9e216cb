"""Benchmark: the set-based assessment against a plain `SELECT firm_id, SUM(points) … GROUP BY firm_id`
over the same credit_event table, in the same run (SPEC §5: ≤ 3×, peak memory ≤ 1 GiB).

    python bench/assess.py DATABASE_URL FIRMS EVENTS [--generate]

`--generate` migrates an empty database and fills it with FIRMS synthetic firms and EVENTS effective
events spread over seven years (Core executemany in batches of 50,000). Each query is run three times;
the best time of each and their ratio are printed, with the process's peak memory."""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import and_, case, func, insert, select, text

from credit.db import make_engine
from credit.migrate import upgrade_to_head
from credit.models import CreditEvent, Firm
from credit.rules.ruleset import default_ruleset
from credit.rules.sql import assessment_query, credit_event

AS_OF = date(2026, 10, 31)
WEIGHTS = {
    "spot_check_pass": 40, "spot_check_fail": 10, "rectified": 5, "spot_check_refused": 0.3, "penalty": 5,
    "serious_dishonesty": 0.2, "recall_voluntary": 1, "recall_ordered": 0.5, "complaint_substantiated": 8,
    "interview": 2, "false_test_data": 0.1, "award_national": 0.1, "award_provincial": 0.3, "award_municipal": 1,
    "famous_brand": 2, "certification": 8, "standard_leadership": 2, "cqo_appointed": 3, "cqo_left": 1,
    "credit_report": 5, "excellence_model": 2,
}  # fmt: skip
SEVERITIES = {"spot_check_fail": ("general", "serious"), "penalty": ("general", "heavy")}


def generate(engine, firms: int, events: int) -> None:
    upgrade_to_head(engine)
    rnd = random.Random(6)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Firm.__table__),
            [
                {"id": i, "uscc": f"{i:018d}", "name": f"firm{i}", "legal_representative": "", "address": "",
                 "region": "南城街道", "industry": "C", "scale": "规上", "created_at": now, "updated_at": now}
                for i in range(1, firms + 1)
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
             "review_note": "", "revoke_reason": ""}
        )  # fmt: skip
        if len(batch) == 50_000 or i == events:
            with engine.begin() as conn:
                conn.execute(insert(CreditEvent.__table__), batch)
            batch = []
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def best_of(engine, statement, label: str, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        with engine.connect() as conn:
            start = time.perf_counter()
            rows = conn.execute(statement).fetchall()
            best = min(best, time.perf_counter() - start)
        print(f"  {label}: {best:.2f}s best so far ({len(rows)} rows)", flush=True)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("firms", type=int)
    parser.add_argument("events", type=int)
    parser.add_argument("--generate", action="store_true")
    args = parser.parse_args()
    engine = make_engine(args.url)
    if args.generate:
        generate(engine, args.firms, args.events)
    rules = default_ruleset()
    whens = [
        (
            credit_event.c.event_type == t
            if s is None
            else and_(credit_event.c.event_type == t, credit_event.c.severity == s),
            r.points,
        )
        for (t, s), r in rules.points.items()
        if r.points
    ]
    plain = select(credit_event.c.firm_id, func.sum(case(*whens, else_=0))).group_by(credit_event.c.firm_id)
    baseline = best_of(engine, plain, "plain SUM … GROUP BY firm_id")
    assessment = best_of(engine, assessment_query(rules, AS_OF), "assessment_query")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RESULT {engine.dialect.name}: baseline {baseline:.2f}s, assessment {assessment:.2f}s, "
          f"ratio {assessment / baseline:.2f}, peak memory {peak:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
