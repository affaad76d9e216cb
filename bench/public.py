"""Benchmark: the public pages at city scale (SPEC §5: list pages and firm search p99 ≤ 50 ms; publication
of a period ≤ 30 s) against a bare Flask endpoint served the same way in the same run.

    BENCH_FIRMS=100000 python bench/public.py [sqlite] [postgresql]

For each database: a city of BENCH_FIRMS firms (set-based inserts, names from credit.demo_data), ~3 %
black-listed, ~5 % red-listed and ~2 % removed entries, a penalty or an award on each listed firm; the
publication of the last ended period (timed, against a plain SELECT of the same rows) and the first
download of its CSV/XLSX/JSON (written and stored) and a second (served from the store). Then
`gunicorn -w 2` (sync) serves the app and, on another free port, a bare Flask app; `wrk -t2 -c32 -d10s`
runs on /lists/black, /lists/red, /?q=<2–4 characters cut from random names>, /firms/<random USCC> and
the bare endpoint, interleaved, BENCH_ROUNDS (3) rounds; medians are printed with the ratio to the
bare endpoint (BENCH_PAGES=0 skips the pages: publication and downloads only). Data goes under bench/data/ (SQLite) or the database BENCH_PG_DB (PostgreSQL)."""

from __future__ import annotations

import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from config import normalise_database_url  # noqa: E402
from credit import clock  # noqa: E402
from credit.db import make_engine, session_scope  # noqa: E402
from credit.demo_data import generate_firms  # noqa: E402
from credit.migrate import upgrade_to_head  # noqa: E402
from credit.models import Actor, CreditEvent, Firm, Listing  # noqa: E402
from credit.rules.dates import add_months  # noqa: E402
from credit.services.publications import last_ended_period, publish_period  # noqa: E402
from credit.services.rulesets import ensure_default_ruleset  # noqa: E402

FIRMS = int(os.environ.get("BENCH_FIRMS", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
DURATION = os.environ.get("BENCH_DURATION", "10s")
PAGES = os.environ.get("BENCH_PAGES", "1") != "0"  # 0: the publication and downloads only (e.g. at 1M)
PG_BASE = os.environ.get("BENCH_PG_URL", "postgresql://root@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("BENCH_PG_DB", "credit_wt_public_bench")
TODAY = date(2026, 11, 22)
DATA = ROOT / "bench" / "data"
CHUNK = 20_000

BARE_APP = """
from flask import Flask, render_template_string
app = Flask(__name__)
PAGE = "<!doctype html><html><head><title>t</title></head><body>" + "<p>x</p>" * 50 + "</body></html>"

@app.route("/")
def index():
    return render_template_string(PAGE)
"""

LUA = """
local paths = {}
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed(os.time() + (args[2] and tonumber(args[2]) or 0))
end
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  local codes = summary.errors.status
  io.write(string.format('JSON {"requests": %d, "seconds": %f, "p50": %f, "p99": %f, "non2xx": %d, "errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000, codes,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(kind: str) -> str:
    if kind == "sqlite":
        DATA.mkdir(parents=True, exist_ok=True)
        path = DATA / f"public-{FIRMS}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}"
    base = make_url(normalise_database_url(PG_BASE))
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    admin.dispose()
    return base.set(database=PG_DB).render_as_string(hide_password=False)


def generate(url: str) -> dict:
    """The city: firms, listings and an event behind each listing, in set-based inserts."""
    engine = make_engine(url)
    upgrade_to_head(engine)
    with session_scope(engine, Actor.system("bench")) as s:
        version = ensure_default_ruleset(s).version
    rnd = random.Random(10)
    now = datetime.now(UTC)
    started = time.perf_counter()
    firms = generate_firms(FIRMS, seed=10)
    generated = time.perf_counter() - started
    with engine.begin() as conn:
        for start in range(0, FIRMS, CHUNK):
            conn.execute(
                insert(Firm.__table__),
                [
                    {**f, "id": start + i + 1, "created_at": now, "updated_at": now}
                    for i, f in enumerate(firms[start : start + CHUNK])
                ],
            )
    listings, events = [], []
    for firm_id in range(1, FIRMS + 1):
        draw = rnd.random()
        if draw < 0.03:
            kind, months = "black", 36
        elif draw < 0.08:
            kind, months = "red", 12
        elif draw < 0.10:
            kind, months = "black", -36  # an entry whose term ended: removed
        else:
            continue
        listed_from = TODAY - timedelta(days=rnd.randrange(1, abs(months) * 30 - 5))
        if months < 0:
            listed_from = TODAY - timedelta(days=rnd.randrange(37 * 30, 60 * 30))
        until = add_months(listed_from, abs(months))
        removed = months < 0
        listings.append(
            {
                "firm_id": firm_id,
                "kind": kind,
                "status": "removed" if removed else "listed",
                "reason": "列入严重违法失信名单决定" if kind == "black" else "守信激励:获市政府质量奖",
                "basis": {"triggers": ["serious_dishonesty"]} if kind == "black" else {"criteria": ["red_eligible"]},
                "rule_set_version": version,
                "listed_from": listed_from,
                "listed_until": until,
                "decided_on": listed_from if kind == "black" else None,
                "ended_on": until if removed else None,
                "end_code": "expired" if removed else None,
                "waived": False,
                "service_method": "",
                "service_note": "",
                "decision_note": "",
                "end_reason": "",
                "created_at": now,
            }
        )
        events.append(
            {
                "firm_id": firm_id,
                "event_type": "penalty" if kind == "black" else "award_municipal",
                "occurred_on": listed_from - timedelta(days=10),
                "document_no": f"东市监罚〔2026〕{firm_id}号",
                "authority": "东莞市市场监督管理局",
                "severity": "heavy" if kind == "black" else None,
                "amount": 50000 if kind == "black" else None,
                "product": "",
                "description": "",
                "status": "effective",
                "source": "import",
                "recorded_at": now,
            }
        )
    with engine.begin() as conn:
        for start in range(0, len(listings), CHUNK):
            conn.execute(insert(Listing.__table__), listings[start : start + CHUNK])
        for start in range(0, len(events), CHUNK):
            conn.execute(insert(CreditEvent.__table__), events[start : start + CHUNK])
        conn.execute(text("ANALYZE"))
    loaded = time.perf_counter() - started
    engine.dispose()
    return {"firms": FIRMS, "listings": len(listings), "generate_s": generated, "load_s": loaded, "names": firms}


def publication(url: str) -> dict:
    """Publish the last ended period, timed, with a plain SELECT of the same rows as its baseline; then
    the first (written) and second (stored) download of each format through the app."""
    engine = make_engine(url)
    clock.set_today(TODAY.isoformat())
    period = last_ended_period(TODAY, "monthly")
    plain = []
    for _ in range(3):
        started = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(
                select(Listing.id, Listing.kind, Listing.reason, Firm.uscc, Firm.name, Firm.region)
                .join(Firm, Firm.id == Listing.firm_id)
                .where(Listing.status.in_(["listed", "removed"]))
                .order_by(Listing.kind, Firm.region, Firm.name)
            ).all()
        plain.append(time.perf_counter() - started)
    started = time.perf_counter()
    with session_scope(engine, Actor.system("bench")) as s:
        published = publish_period(s, period, published_by="bench", today=TODAY).publication
        entries = published.red_count + published.black_count
    publish_s = time.perf_counter() - started
    from config import Config
    from credit.web import create_app

    config = Config()
    config.SQLALCHEMY_DATABASE_URI = url
    app = create_app(config)
    downloads = {}
    with app.test_client() as client:
        for fmt in ("csv", "xlsx", "json"):
            times = []
            size = 0
            for _ in range(2):
                started = time.perf_counter()
                response = client.get(f"/publications/{period}.{fmt}")
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.status_code
                size = len(response.data)
            downloads[fmt] = {"first_s": times[0], "stored_s": times[1], "bytes": size}
    engine.dispose()
    return {
        "period": period,
        "entries": entries,
        "publish_s": publish_s,
        "plain_select_s": statistics.median(plain),
        "downloads": downloads,
    }


def serve(app_spec: str, url: str, cwd: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "CREDIT_TODAY": TODAY.isoformat(), "PYTHONPATH": str(cwd)}
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         app_spec],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(
        f"gunicorn {app_spec} did not start: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
    )


def wrk(port: int, paths_file: Path, lua: Path) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{DURATION}", "--timeout", "5s", "-s", str(lua), f"http://127.0.0.1:{port}",
         "--", str(paths_file)],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    result = json.loads(line[5:])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def load_paths(names: list[dict], tmp: Path) -> dict[str, Path]:
    rnd = random.Random(11)
    files = {}

    def write(name: str, paths: list[str]) -> None:
        files[name] = tmp / f"{name}.txt"
        files[name].write_text("\n".join(paths) + "\n", encoding="utf-8")

    from urllib.parse import quote

    queries = []
    for _ in range(2000):
        firm_name = rnd.choice(names)["name"]
        length = rnd.choice((2, 3, 4))
        start = rnd.randrange(0, max(1, len(firm_name) - length))
        queries.append("/?q=" + quote(firm_name[start : start + length]))
    write("search", queries)
    write("firm", ["/firms/" + rnd.choice(names)["uscc"] for _ in range(2000)])
    write("black", ["/lists/black"])
    write("red", ["/lists/red"])
    write("bare", ["/"])
    return files


def bench_pages(url: str, names: list[dict]) -> dict:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "bare_app.py").write_text(BARE_APP, encoding="utf-8")
        lua = tmp / "paths.lua"
        lua.write_text(LUA, encoding="utf-8")
        files = load_paths(names, tmp)
        app_port, bare_port = free_port(), free_port()
        app = serve("wsgi:app", url, ROOT, app_port)
        bare = serve("bare_app:app", url, tmp, bare_port)
        results: dict[str, list[dict]] = {name: [] for name in files}
        try:
            for path in ("/lists/black", "/lists/red", "/"):  # warm up both workers (imports, first pages)
                for _ in range(4):
                    subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{app_port}{path}"], timeout=60)
            for _ in range(ROUNDS):
                for name, paths in files.items():
                    port = bare_port if name == "bare" else app_port
                    results[name].append(wrk(port, paths, lua))
        finally:
            for proc in (app, bare):
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    summary = {}
    for name, runs in results.items():
        summary[name] = {
            "rps": statistics.median(r["rps"] for r in runs),
            "p50_ms": statistics.median(r["p50"] for r in runs),
            "p99_ms": statistics.median(r["p99"] for r in runs),
            "non2xx": sum(r["non2xx"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
        }
    return summary


def main(kinds: list[str]) -> None:
    print(f"firms={FIRMS} rounds={ROUNDS} duration={DURATION} load average {os.getloadavg()}", flush=True)
    for kind in kinds:
        url = database_url(kind)
        city = generate(url)
        names = city.pop("names")
        print(f"[{kind}] city: {city}", flush=True)
        pub = publication(url)
        print(f"[{kind}] publication {pub['period']}: {pub['entries']} entries in {pub['publish_s']:.2f} s "
              f"(plain SELECT of the listings {pub['plain_select_s']:.2f} s, ratio "
              f"{pub['publish_s'] / pub['plain_select_s']:.1f}x)", flush=True)  # fmt: skip
        for fmt, d in pub["downloads"].items():
            print(f"[{kind}]   {fmt}: first {d['first_s']:.2f} s (written), then {d['stored_s']:.3f} s (stored), "
                  f"{d['bytes'] / 1e6:.1f} MB", flush=True)  # fmt: skip
        if not PAGES:
            continue
        pages = bench_pages(url, names)
        bare = pages["bare"]
        print(f"[{kind}] load average {os.getloadavg()}")
        print(f"[{kind}] {'path':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8} {'non-2xx':>8}")
        for name, r in pages.items():
            print(f"[{kind}] {name:<8} {r['rps']:8.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
                  f"{r['rps'] / bare['rps']:8.1%} {r['non2xx'] + r['errors']:8d}", flush=True)  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process {peak:.0f} MiB")


if __name__ == "__main__":
    main([a for a in sys.argv[1:] if a in ("sqlite", "postgresql")] or ["sqlite", "postgresql"])
