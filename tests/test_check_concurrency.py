"""Credit checks through real gunicorn workers on one database (not timed): 32 threads at once, zero 5xx
("database is locked" never reaches a caller on SQLite), and the rate limit, counted in the database
across both workers, refuses exactly the requests over it; every answered check is in the log. On
PostgreSQL the same holds for the one-statement count-and-log of the hot path."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import func, select

from credit.db import make_engine, session_scope
from credit.models import Actor, CreditCheck
from credit.services.apikeys import create_api_key
from credit.services.assessment import reassess_firms
from tests.factories import make_firm

THREADS = 32
PER_THREAD = 12
LIMIT = 250  # of THREADS × PER_THREAD = 384 requests: 134 must be refused
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/openapi.json")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not come up")


@pytest.fixture
def city(db_url: str):
    """One firm (assessed) and a check key in a fresh database."""
    engine = make_engine(db_url)
    with session_scope(engine, Actor.system("test")) as session:
        firm = make_firm(session)
        session.flush()
        reassess_firms(session, [firm.id])
        token = create_api_key(session, department="财政局", scopes="check").token
        uscc = firm.uscc
    engine.dispose()
    return db_url, uscc, token


@pytest.fixture
def server(city, tmp_path):
    db_url, uscc, token = city
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SECRET_KEY": "test-only",
        "API_RATE_LIMIT": str(LIMIT),
        "API_RATE_WINDOW": str(10**8),  # one window for the whole test, whenever it runs
        "CREDIT_INSTANCE_DIR": str(tmp_path / "instance"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "60", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_up(port, process)
        yield port, uscc, token, db_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_32_threads_no_5xx_and_the_limit_exact(server):
    port, uscc, token, db_url = server

    def hammer(_thread: int) -> list[int]:
        statuses = []
        for _ in range(PER_THREAD):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(
                "GET", f"/api/v1/credit/{uscc}?purpose=procurement", headers={"Authorization": f"Bearer {token}"}
            )
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
            conn.close()
        return statuses

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = Counter(s for batch in pool.map(hammer, range(THREADS)) for s in batch)

    assert sum(statuses.values()) == THREADS * PER_THREAD
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses == {200: LIMIT, 429: THREADS * PER_THREAD - LIMIT}, statuses
    engine = make_engine(db_url)
    with session_scope(engine, Actor.system("test"), write=False) as session:
        assert session.exec(select(func.count()).select_from(CreditCheck)).one() == LIMIT
    engine.dispose()
