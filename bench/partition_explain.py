"""What a sharded deployment does with the assessment, shown on one PostgreSQL: `credit_event` and `firm`
hash-partitioned by firm id (as Citus distributes them by their distribution column), and the plan of
`assessment_query` with partition-wise aggregation and joins on (docs/scale.md).

    PARTITION_DATABASE_URL=postgresql://root@127.0.0.1:5432/credit_partition python bench/partition_explain.py

Works in a scratch database (created when missing; default above): migrates it, fills PARTITION_FIRMS
firms (default 20,000) with ten events each, copies both tables into schema `part` as tables
partitioned BY HASH (firm id) into PARTITION_COUNT partitions (default 4), and prints EXPLAIN of the
assessment over the copies with `enable_partitionwise_aggregate` and `enable_partitionwise_join` on, then
the same counts from both schemas (the partitioned copy gives the same answers)."""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from config import normalise_database_url  # noqa: E402
from credit.db import make_engine  # noqa: E402
from credit.migrate import upgrade_to_head  # noqa: E402
from credit.models import CreditEvent, Firm  # noqa: E402
from credit.rules.ruleset import default_ruleset  # noqa: E402
from credit.rules.sql import assessment_query, explain_sql  # noqa: E402

AS_OF = date(2026, 10, 31)
TYPES = [("spot_check_pass", None), ("spot_check_fail", "general"), ("spot_check_fail", "serious"),
         ("penalty", "general"), ("penalty", "heavy"), ("award_municipal", None), ("complaint_substantiated", None),
         ("certification", None), ("cqo_appointed", None), ("cqo_left", None)]  # fmt: skip


def scratch_url() -> str:
    url = make_url(
        normalise_database_url(
            os.environ.get("PARTITION_DATABASE_URL", "postgresql://root@127.0.0.1:5432/credit_partition")
        )
    )
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": url.database}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    server.dispose()
    return url.render_as_string(hide_password=False)


def fill(engine, firms: int) -> None:
    upgrade_to_head(engine)
    with engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(Firm.__table__)).scalar() == firms:
            return
    rnd = random.Random(3)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Firm.__table__),
            [{"id": i, "uscc": f"{i:018d}", "name": f"firm{i}", "legal_representative": "", "address": "",
              "region": "南城街道", "industry": "C", "scale": "规上", "created_at": now, "updated_at": now}
             for i in range(1, firms + 1)],
        )  # fmt: skip
        rows = []
        for n in range(firms * 10):
            kind, severity = rnd.choice(TYPES)
            on = date(2021, 1, 1) + timedelta(days=rnd.randrange(2100))
            rows.append(
                {"firm_id": rnd.randrange(1, firms + 1), "event_type": kind, "occurred_on": on,
                 "document_no": f"D{n}", "authority": "x", "severity": severity, "product": "", "description": "",
                 "person_name": "", "certificate_no": "", "correction_reason": "", "status": "effective",
                 "source": "import", "recorded_at": now, "review_note": "", "revoke_reason": "",
                 "valid_until": on + timedelta(days=1095) if kind == "certification" else None,
                 "failed_item": "", "failed_result": "", "failed_limit": ""}
            )  # fmt: skip
            if len(rows) == 50_000:
                conn.execute(insert(CreditEvent.__table__), rows)
                rows = []
        if rows:
            conn.execute(insert(CreditEvent.__table__), rows)


def partition(engine, count: int) -> None:
    """Schema `part`: firm and credit_event with the same columns, hash-partitioned by firm id."""
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS part CASCADE"))
        conn.execute(text("CREATE SCHEMA part"))
        for name, key in (("firm", "id"), ("credit_event", "firm_id")):
            conn.execute(
                text(f"CREATE TABLE part.{name} (LIKE public.{name} INCLUDING DEFAULTS) PARTITION BY HASH ({key})")
            )
            for i in range(count):
                conn.execute(
                    text(
                        f"CREATE TABLE part.{name}_{i} PARTITION OF part.{name} "
                        f"FOR VALUES WITH (MODULUS {count}, REMAINDER {i})"
                    )
                )
            conn.execute(text(f"INSERT INTO part.{name} SELECT * FROM public.{name}"))
        conn.execute(text("ALTER TABLE part.firm ADD PRIMARY KEY (id)"))
        conn.execute(text("CREATE INDEX ON part.credit_event (firm_id, occurred_on)"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE part.firm"))
        conn.execute(text("ANALYZE part.credit_event"))
        conn.execute(text("ANALYZE"))


def main() -> None:
    firms = int(os.environ.get("PARTITION_FIRMS", "20000"))
    count = int(os.environ.get("PARTITION_COUNT", "4"))
    engine = make_engine(scratch_url())
    fill(engine, firms)
    partition(engine, count)
    rules = default_ruleset()
    sql = explain_sql(rules, AS_OF, "postgresql")
    with engine.connect() as conn:
        server = conn.execute(text("SHOW server_version")).scalar()
        print(f"-- PostgreSQL {server}; {firms} firms, {firms * 10} events; {count} hash partitions by firm id")
        conn.execute(text("SET search_path TO part, public"))
        conn.execute(text("SET enable_partitionwise_aggregate = on"))
        conn.execute(text("SET enable_partitionwise_join = on"))
        conn.execute(text("SET jit = off"))
        plan = conn.execute(text("EXPLAIN (COSTS OFF) " + sql)).scalars().all()
        print("\n".join(plan))
        partitioned = conn.execute(
            select(func.count(), func.sum(assessment_query(rules, AS_OF).subquery().c.score))
        ).one()
        conn.execute(text("SET search_path TO public"))
        plain = conn.execute(select(func.count(), func.sum(assessment_query(rules, AS_OF).subquery().c.score))).one()
    print(f"-- firms and total score, partitioned copy {tuple(partitioned)} = original {tuple(plain)}")
    assert tuple(partitioned) == tuple(plain)


if __name__ == "__main__":
    main()
