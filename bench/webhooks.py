"""Benchmark (issue 15): what the change outbox adds to recording an event, and how many webhook deliveries
per second one worker makes to a local receiver.

    python bench/webhooks.py [--firms 100000] [--events 200] [--rounds 5] [--deliveries 2000]

Database: BENCH_DATABASE_URL (bench/benchdb.py; default an SQLite file in bench/data/), built once with
FIRMS firms (one set-based INSERT … SELECT) and reused.

1. Outbox cost: each sample records and approves one heavy penalty for a fresh firm (the grade changes, a
   black listing is proposed: three outbox rows), one transaction per event, as a reviewer does in the
   browser. Rounds alternate *with* the outbox and *without* it (its triggers dropped and the grade-change
   insert stubbed out, in this process only); the medians of the per-event times are compared. Bar: < 10 %.
2. Deliveries: DELIVERIES changes fanned out to one `all` subscription, POSTed by `deliver_pass` (batch 50)
   to a ThreadingHTTPServer on 127.0.0.1 answering 204; deliveries per second, median of the rounds."""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text

import credit.services.assessment as assessment
from bench.benchdb import bench_url
from credit.db import WRITE_OPTION, make_engine, session_scope
from credit.migrate import upgrade_to_head
from credit.models import Actor, ChangeOutbox, Firm, utcnow
from credit.services.apikeys import get_or_create_department
from credit.services.events import approve_event, record_event
from credit.services.rulesets import ensure_default_ruleset
from credit.services.users import create_user, get_user
from credit.services.webhook_urls import UrlPolicy
from credit.services.webhooks import WebhookSettings, create_subscription, deliver_pass
from credit.uscc import org_code_check_char, uscc_check_char

ACTOR = Actor(label="bench", source="cli")


def uscc(i: int) -> str:
    """A valid code: 91 + 441900 + an 8-digit organisation code with its check + the USCC check."""
    body = f"{i:08d}"
    org = body + org_code_check_char(body)
    first17 = "91441900" + org
    return first17 + uscc_check_char(first17)


def build(engine, firms: int) -> None:
    with engine.connect() as conn:
        have = conn.execute(select(func.count()).select_from(Firm)).scalar()
    if have >= firms:
        return
    with session_scope(engine, ACTOR) as s:
        ensure_default_ruleset(s)
        rows = [
            {
                "uscc": uscc(i),
                "name": f"东莞市基准{i}有限公司",
                "region": "南城街道",
                "industry": "C",
                "scale": "规上",
                "now": utcnow(),
            }
            for i in range(have + 1, firms + 1)
        ]
        s.execute(
            text(
                "INSERT INTO firm (uscc, name, legal_representative, address, region, industry, scale, created_at, "
                "updated_at) VALUES (:uscc, :name, '张三', '东莞市', :region, :industry, :scale, :now, :now)"
            ),
            rows,
        )
        for name, role in (("bench-rec", "recorder"), ("bench-rev", "reviewer")):
            if get_user(s, name) is None:
                create_user(s, username=name, role=role, password="bench-password-42")  # noqa: S106 - a benchmark database
    print(f"built {firms:,} firms")


_triggers: list[str] = []
_state: dict[str, bool] = {}


def outbox(engine, on: bool) -> None:
    """Turn the outbox on or off for the next round (this process; SQLite triggers; PG functions)."""
    if _state.get("on") is on:
        return
    _state["on"] = on
    assessment.record_grade_change = _real if on else (lambda *_a, **_k: None)  # type: ignore[assignment]
    with engine.connect() as plain, plain.execution_options(**{WRITE_OPTION: True}).begin() as _tx:
        conn = plain
        if engine.dialect.name == "sqlite":
            if not _triggers:
                _triggers.extend(
                    conn.execute(text("SELECT sql FROM sqlite_master WHERE name LIKE 'change_outbox_%'")).scalars()
                )
            names = [t.split()[2] for t in _triggers]
            for name in names:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
            if on:
                for sql in _triggers:
                    conn.execute(text(sql))
        else:
            verb = "ENABLE" if on else "DISABLE"
            conn.execute(text(f"ALTER TABLE listing {verb} TRIGGER change_outbox_listing"))


_real = assessment.record_grade_change


def record_round(engine, usccs: list[str]) -> list[tuple[float, float]]:
    """(wall, CPU) seconds per event. CPU time of this process counts SQLite's work too (it runs in
    process) and not the other users of a shared machine: the steadier of the two measures there."""
    times = []
    for uscc in usccs:
        started, cpu = time.perf_counter(), time.process_time()
        with session_scope(engine, ACTOR) as s:
            recorder, reviewer = get_user(s, "bench-rec"), get_user(s, "bench-rev")
            raw = {
                "uscc": uscc,
                "event_type": "penalty",
                "occurred_on": "2026-09-01",
                "document_no": f"基准罚〔2026〕{uscc[-6:]}号",
                "authority": "东莞市市场监督管理局",
                "severity": "heavy",
                "amount": "200000",
                "product": "电热水壶",
            }
            approve_event(s, record_event(s, raw, recorder=recorder), reviewer)
        times.append((time.perf_counter() - started, time.process_time() - cpu))
    return times


class _Quiet(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args):
        pass


def deliveries(engine, count: int, rounds: int, key_dir: Path) -> list[float]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = WebhookSettings(
        secret_key="bench-secret",  # noqa: S106 - a benchmark
        policy=UrlPolicy.from_config("", "127.0.0.1/32"),
        key_dir=key_dir,
    )
    rates = []
    for _ in range(rounds):
        with session_scope(engine, ACTOR) as s:
            department = get_or_create_department(s, "基准部门")
            create_subscription(
                s,
                department_id=department.id,
                url=f"http://127.0.0.1:{server.server_port}/in",
                scope="all",
                settings=settings,
            )
            newest = s.execute(select(func.max(ChangeOutbox.id))).scalar() or 0
            # COUNT synthetic changes after the subscription's cursor (a copy of publication-kind rows).
            s.execute(
                text(
                    "INSERT INTO change_outbox (kind, data, recorded_at) SELECT 'publication.published', '{}', "
                    f"CURRENT_TIMESTAMP FROM change_outbox WHERE id <= {newest} LIMIT {count}"
                )
            )
        started = time.perf_counter()
        sent = 0
        while True:
            report = deliver_pass(engine, settings)
            sent += report.delivered
            if report.claimed == 0:
                break
        rates.append(sent / (time.perf_counter() - started))
        with session_scope(engine, ACTOR) as s:
            s.execute(text("UPDATE webhook_subscription SET active = false"))
    server.shutdown()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--firms", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--deliveries", type=int, default=2000)
    args = parser.parse_args()
    url = bench_url("webhooks")
    engine = make_engine(url)
    upgrade_to_head(engine)
    build(engine, args.firms)
    with engine.connect() as conn:
        usccs = list(
            conn.execute(
                text("SELECT uscc FROM firm WHERE id NOT IN (SELECT firm_id FROM credit_event) ORDER BY id LIMIT :n"),
                {"n": args.events * args.rounds * 2},
            ).scalars()
        )
    if len(usccs) < args.events * args.rounds * 2:
        sys.exit("not enough fresh firms: raise --firms or build a new database")
    # Interleaved event by event (with, without, without, with, …) so that load from the machine's other
    # users falls on both arms alike; medians per round, then the median of the rounds.
    arms: dict[tuple[bool, int], list[float]] = {(on, m): [] for on in (True, False) for m in (0, 1)}
    for _ in range(args.rounds):
        samples: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for k in range(args.events * 2):
            on = k % 4 in (0, 3)
            outbox(engine, on)
            samples[on] += record_round(engine, [usccs.pop()])
        for on in (True, False):
            for m in (0, 1):
                arms[(on, m)].append(statistics.median(x[m] for x in samples[on]))
    outbox(engine, True)
    for m, label in ((0, "wall"), (1, "CPU")):
        a, b = statistics.median(arms[(True, m)]), statistics.median(arms[(False, m)])
        ratios = [round(100 * (x / y - 1), 1) for x, y in zip(arms[(True, m)], arms[(False, m)], strict=True)]
        print(
            f"{engine.dialect.name} {label}: record+approve one event: with outbox {a * 1000:.2f} ms, "
            f"without {b * 1000:.2f} ms, added {100 * (a / b - 1):+.1f} % (per round: {ratios} %)"
        )
    rates = deliveries(engine, args.deliveries, 3, Path(__file__).resolve().parent / "data" / "signing")
    print(
        f"deliveries per second (one worker, batch 50, local receiver): median {statistics.median(rates):.0f} "
        f"of {[round(r) for r in rates]}"
    )


if __name__ == "__main__":
    main()
