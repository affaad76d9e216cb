"""Benchmark: the credit check `GET /api/v1/credit/{uscc}` under gunicorn (2 sync workers) against a bare
Flask JSON endpoint served the same way, in the same run (SPEC §5: ≥ 60 % of its requests/s, p99 ≤ 25 ms
at 32 connections).

    python bench/check.py                     # SQLite: bench/data/check-<N>.db
    DATABASE_URL=postgresql://… python bench/check.py
    BENCH_FIRMS=1000000 BENCH_ROUNDS=3 BENCH_SECONDS=10 python bench/check.py

The city (BENCH_FIRMS firms, default 100,000, about 3 effective events each over seven years, assessed
by `assess_all` so black proposals and red listings exist) is generated once with set-based inserts and
reused while its firm count matches. Each round runs `wrk -t2 -c32 -d10s` against both servers, the
order alternating between rounds; the medians of the rounds' requests/s and p99 are compared. Requests
pick a random firm of the city (bench/check.lua). Non-2xx answers are counted and reported (and not
taken as throughput). The rate limit stays on (its counter is part of the check's transaction) with a
limit no run reaches."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from config import normalise_database_url  # noqa: E402
from credit.db import make_engine, optimize, session_scope  # noqa: E402
from credit.migrate import upgrade_to_head  # noqa: E402
from credit.models import Actor, CreditEvent, Firm  # noqa: E402
from credit.services.apikeys import create_api_key  # noqa: E402
from credit.services.assessment import assess_all  # noqa: E402
from credit.services.rulesets import ensure_default_ruleset  # noqa: E402
from credit.uscc import org_code_check_char, uscc_check_char  # noqa: E402

TODAY = "2026-11-22"
WRK = shutil.which("wrk") or "/usr/bin/wrk"  # apt-get install -y wrk
DATA = ROOT / "bench" / "data"
FIRMS = int(os.environ.get("BENCH_FIRMS", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
WEIGHTS = {
    "spot_check_pass": 40, "spot_check_fail": 10, "rectified": 5, "spot_check_refused": 0.3, "penalty": 5,
    "serious_dishonesty": 0.2, "recall_voluntary": 1, "recall_ordered": 0.5, "complaint_substantiated": 8,
    "interview": 2, "false_test_data": 0.1, "award_national": 0.1, "award_provincial": 0.3, "award_municipal": 1,
    "famous_brand": 2, "certification": 8, "standard_leadership": 2, "cqo_appointed": 3, "cqo_left": 1,
    "credit_report": 5, "excellence_model": 2,
}  # fmt: skip
SEVERITIES = {"spot_check_fail": ("general", "serious"), "penalty": ("general", "heavy")}


def uscc_of(i: int) -> str:
    body = f"{i:08d}"
    first17 = "91441900" + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


def database_url() -> str:
    if url := os.environ.get("DATABASE_URL"):
        return normalise_database_url(url)
    DATA.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DATA / f'check-{FIRMS}.db'}"


def ensure_pg_database(url: str) -> None:
    parsed = make_url(url)
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).first():
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def build_city(url: str) -> tuple[list[str], str]:
    """The city's codes and a fresh check key; the firms and events are generated when missing."""
    if url.startswith("postgresql"):
        ensure_pg_database(url)
    engine = make_engine(url)
    upgrade_to_head(engine)
    with engine.connect() as conn:
        present = conn.execute(select(func.count()).select_from(Firm.__table__)).scalar_one()
    if present != FIRMS:
        if present:
            raise SystemExit(f"{url} holds {present} firms, not {FIRMS}: remove it or set BENCH_FIRMS")
        generate(engine)
    with engine.connect() as conn:
        assessed = conn.execute(text("SELECT COUNT(*) FROM assessment")).scalar_one()
    if not assessed:
        assess(engine)
    with session_scope(engine, Actor.system("bench")) as session:
        token = create_api_key(session, department="基准测试", scopes="check").token
    engine.dispose()
    return [uscc_of(i) for i in range(1, FIRMS + 1)], token


def generate(engine) -> None:
    started = time.perf_counter()
    rnd = random.Random(10)
    now = datetime.now(UTC)
    firms = [
        {"id": i, "uscc": uscc_of(i), "name": f"东莞市第{i}号制造有限公司", "legal_representative": "张三",
         "address": "东莞市南城街道", "region": "南城街道", "industry": "C39", "scale": "规上",
         "created_at": now, "updated_at": now}
        for i in range(1, FIRMS + 1)
    ]  # fmt: skip
    with engine.begin() as conn:
        for start in range(0, len(firms), 20_000):
            conn.execute(insert(Firm.__table__), firms[start : start + 20_000])
    types, weights = list(WEIGHTS), list(WEIGHTS.values())
    first = date.fromisoformat(TODAY) - timedelta(days=7 * 365)
    batch: list[dict] = []
    n = 0
    for firm_id in range(1, FIRMS + 1):
        for _ in range(rnd.choice((0, 1, 2, 3, 4, 5, 6))):
            n += 1
            kind = rnd.choices(types, weights)[0]
            on = first + timedelta(days=rnd.randrange(7 * 365))
            batch.append(
                {"firm_id": firm_id, "event_type": kind, "occurred_on": on, "document_no": f"B{n}", "authority": "x",
                 "severity": rnd.choice(SEVERITIES[kind]) if kind in SEVERITIES else None, "amount": None,
                 "product": "", "description": "", "person_name": "", "certificate_no": "",
                 "valid_until": on + timedelta(days=1095) if kind in ("famous_brand", "certification") else None,
                 "correction_reason": "", "status": "effective", "source": "import", "recorded_at": now,
                 "review_note": "", "revoke_reason": ""}
            )  # fmt: skip
        if len(batch) >= 50_000 or firm_id == FIRMS:
            with engine.begin() as conn:
                conn.execute(insert(CreditEvent.__table__), batch)
            batch = []
    print(f"city: {FIRMS} firms, {n} events in {time.perf_counter() - started:.0f}s", flush=True)


def assess(engine) -> None:
    """Assess the city as the nightly job does, with statistics gathered first (credit.db.optimize)."""
    started = time.perf_counter()
    optimize(engine)
    os.environ["CREDIT_TODAY"] = TODAY
    with session_scope(engine, Actor.system("bench")) as session:
        ensure_default_ruleset(session)
        run = assess_all(session, as_of=date.fromisoformat(TODAY))
    optimize(engine)
    print(
        f"assessed: {run.firms} firms, {run.black_proposed} black proposals, {run.red_listed} red "
        f"in {time.perf_counter() - started:.0f}s",
        flush=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(app: str, port: int, env: dict[str, str], chdir: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--chdir", str(chdir), app],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/credit/x", timeout=2)
            return process
        except urllib.error.HTTPError:
            return process  # up (a 401/422 is an answer)
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"{app} did not come up")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(port: int, env: dict[str, str], seconds: int) -> dict[str, float]:
    out = subprocess.run(
        [WRK, "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(ROOT / "bench" / "check.lua"),
         f"http://127.0.0.1:{port}"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Requests/sec" not in out or not re.search(r"99%\s", out):
        raise SystemExit(f"wrk printed no result:\n{out}")
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "rps_2xx": (total - non2xx) / seconds,
        "p99": _ms(re.search(r"99%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        "non2xx": non2xx,
        "errors": errors,
        "total": total,
    }


def main() -> None:
    url = database_url()
    usccs, token = build_city(url)
    codes = DATA / "check-usccs.txt"
    DATA.mkdir(parents=True, exist_ok=True)
    codes.write_text("\n".join(usccs) + "\n")
    base_env = {**os.environ, "CREDIT_TODAY": TODAY, "BENCH_USCCS": str(codes), "BENCH_TOKEN": token}
    app_env = {
        **base_env,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-only",
        "API_RATE_LIMIT": str(10**9),  # counted, never refused
        "CREDIT_INSTANCE_DIR": str(DATA / "instance"),
    }
    app_port, bare_port = free_port(), free_port()
    app = start("wsgi:app", app_port, app_env, ROOT)
    bare = start("bare_app:app", bare_port, base_env, ROOT / "bench")
    try:
        for port in (app_port, bare_port):  # warm up: caches, page cache, workers
            wrk(port, base_env, 2)
        results: dict[str, list[dict[str, float]]] = {"check": [], "bare": []}
        for round_ in range(ROUNDS):
            order = [("check", app_port), ("bare", bare_port)]
            for name, port in order if round_ % 2 == 0 else order[::-1]:
                result = wrk(port, base_env, SECONDS)
                results[name].append(result)
                print(
                    f"round {round_ + 1} {name:5}: {result['rps']:8.0f} req/s ({result['rps_2xx']:.0f} 2xx), "
                    f"p99 {result['p99']:6.2f} ms, non-2xx {result['non2xx']:.0f}, socket errors {result['errors']:.0f}",
                    flush=True,
                )
    finally:
        stop(app)
        stop(bare)
    check = {k: statistics.median(r[k] for r in results["check"]) for k in ("rps", "rps_2xx", "p99")}
    bare_rps = statistics.median(r["rps"] for r in results["bare"])
    bare_p99 = statistics.median(r["p99"] for r in results["bare"])
    non2xx = sum(r["non2xx"] for r in results["check"])
    backend = make_url(url).get_backend_name()
    print(
        f"\n{backend}, {FIRMS} firms, wrk -t2 -c32 -d{SECONDS}s, gunicorn -w 2, medians of {ROUNDS} interleaved "
        f"rounds, load average {os.getloadavg()[0]:.2f}:\n"
        f"  check   {check['rps']:.0f} req/s (2xx only {check['rps_2xx']:.0f}), p99 {check['p99']:.2f} ms, "
        f"non-2xx {non2xx:.0f}\n"
        f"  bare    {bare_rps:.0f} req/s, p99 {bare_p99:.2f} ms\n"
        f"  ratio   {check['rps_2xx'] / bare_rps:.1%} of bare Flask (bar ≥ 60 %), p99 bar ≤ 25 ms: "
        f"{'met' if check['rps_2xx'] / bare_rps >= 0.6 and check['p99'] <= 25 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
