"""The scheduler: jobs as data, catch-up at start, exactly one publication per period with two real
scheduler processes, failures logged without stopping the process, and the long-lived process itself."""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from credit.clock import BUREAU_TZ
from credit.models import AuditEntry, Publication
from credit.scheduler import JOBS, Job, JobContext, jobs_for
from credit.scheduler.jobs import CATCH_UP_LIMIT, PUBLICATION, publish_due
from credit.scheduler.runner import run_job
from credit.services.publications import PublicationError, periods_to_publish, publish_period
from credit.services.rulesets import ensure_default_ruleset
from tests.factories import make_firm
from tests.test_publications import make_listing

ROOT = Path(__file__).resolve().parents[1]
D = date.fromisoformat


def numbers(engine) -> list[str]:
    with Session(engine) as s:
        return list(s.exec(select(Publication.number).order_by(Publication.number)))


@pytest.fixture
def history(tx) -> None:
    """Listings in force since September 2026: by 2026-11-22, September and October are due."""
    with tx() as s:
        ensure_default_ruleset(s)  # `flask credit init` has run, as in production
        make_listing(s, make_firm(s), "red", listed_from="2026-09-10", listed_until="2027-09-10")
        make_listing(s, make_firm(s), "black", listed_from="2026-10-08", listed_until="2029-10-08")


def scheduler_env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a real scheduler process on the test database (real Config, not TestConfig)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PUBLICATION_PERIOD", "TEST_DATABASE_URL")}
    env.update(
        DATABASE_URL=db_url,
        SECRET_KEY="test",
        CREDIT_INSTANCE_DIR=str(tmp_path / "instance"),
        FLASK_APP="wsgi",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def scheduler_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", "credit", "scheduler", *args]


# --- jobs as data -------------------------------------------------------------------------------------


def test_jobs_are_declared_as_data():
    monthly = jobs_for("monthly")
    assert [job.id for job in monthly] == ["assessment", "listing-expiry", "publication"]
    assert monthly[0].cron == {"hour": 1, "minute": 0}
    assert monthly[2].cron == {"day": 1, "hour": 2, "minute": 0}
    assert jobs_for("quarterly")[2].cron["month"] == "1,4,7,10"
    assert set(JOBS) == {"monthly", "quarterly"}
    with pytest.raises(PublicationError, match="monthly"):
        jobs_for("weekly")


def test_publication_runs_on_the_first_at_two_in_beijing():
    from apscheduler.triggers.cron import CronTrigger

    now = datetime(2026, 11, 22, 12, 0, tzinfo=BUREAU_TZ)
    monthly = CronTrigger(timezone=BUREAU_TZ, **PUBLICATION["monthly"].cron).get_next_fire_time(None, now)
    assert monthly == datetime(2026, 12, 1, 2, 0, tzinfo=BUREAU_TZ)
    quarterly = CronTrigger(timezone=BUREAU_TZ, **PUBLICATION["quarterly"].cron).get_next_fire_time(None, now)
    assert quarterly == datetime(2027, 1, 1, 2, 0, tzinfo=BUREAU_TZ)
    nightly = CronTrigger(timezone=BUREAU_TZ, **jobs_for("monthly")[0].cron).get_next_fire_time(None, now)
    assert nightly == datetime(2026, 11, 23, 1, 0, tzinfo=BUREAU_TZ)


def test_the_web_app_never_loads_the_scheduler(tmp_path):
    code = "import sys\nfrom credit.web import create_app\ncreate_app()\nprint('credit.scheduler' in sys.modules)\n"
    env = scheduler_env(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# --- catch-up -------------------------------------------------------------------------------------------


def test_due_periods_start_after_the_last_publication(session, history):
    assert periods_to_publish(session, today=D("2026-11-22"), kind="monthly") == ["2026-09", "2026-10"]
    assert periods_to_publish(session, today=D("2026-11-22"), kind="quarterly") == ["2026-Q3"]
    publish_period(session, "2026-09", published_by="tester", today=D("2026-11-22"))
    assert periods_to_publish(session, today=D("2026-11-22"), kind="monthly") == ["2026-10"]
    assert periods_to_publish(session, today=D("2026-10-31"), kind="monthly") == []


def test_without_any_listing_the_last_ended_period_is_due(session):
    assert periods_to_publish(session, today=D("2026-11-22"), kind="monthly") == ["2026-10"]


def test_a_scheduler_started_after_two_missed_periods_publishes_both_once(runner, engine, history, tx):
    with tx() as s:
        publish_period(s, "2026-08", published_by="tester", today=D("2026-09-01"))
    first = runner.invoke(args=["credit", "scheduler", "--once", "--now", "2026-11-05"])
    assert first.exit_code == 0, first.output
    assert numbers(engine) == ["2026-08", "2026-09", "2026-10"]
    second = runner.invoke(args=["credit", "scheduler", "--once", "--now", "2026-11-20"])
    assert second.exit_code == 0, second.output
    assert numbers(engine) == ["2026-08", "2026-09", "2026-10"]
    with Session(engine) as s:  # published oldest first
        published = s.exec(select(Publication.number).order_by(Publication.id)).all()
        assert published == ["2026-08", "2026-09", "2026-10"]
        assert s.exec(select(Publication.red_count).where(Publication.number == "2026-09")).one() == 1
        assert s.exec(select(Publication.published_by).where(Publication.number == "2026-10")).one() == "scheduler"


def test_quarterly_publication(runner, engine, history, monkeypatch):
    monkeypatch.setenv("PUBLICATION_PERIOD", "quarterly")
    result = runner.invoke(args=["credit", "scheduler", "--once", "--now", "2026-11-22"])
    assert result.exit_code == 0, result.output
    assert numbers(engine) == ["2026-Q3"]


def test_a_bad_publication_period_setting_is_refused(runner, monkeypatch):
    monkeypatch.setenv("PUBLICATION_PERIOD", "weekly")
    result = runner.invoke(args=["credit", "scheduler", "--once"])
    assert result.exit_code == 1 and "PUBLICATION_PERIOD" in result.output


def test_catch_up_is_bounded(engine, tx, caplog):
    with tx() as s:
        ensure_default_ruleset(s)
        make_listing(s, make_firm(s), "black", listed_from="2020-01-15", listed_until="2030-01-15")
    with caplog.at_level(logging.INFO, logger="credit.scheduler"):
        done = publish_due(JobContext(engine=engine, today=D("2026-11-22")))
    assert len(done) == CATCH_UP_LIMIT
    assert done[0] == ("2024-11", True) and done[-1] == ("2026-10", True)
    assert "82 periods missed" in caplog.text
    assert publish_due(JobContext(engine=engine, today=D("2026-11-22"))) == []


# --- two schedulers, failures, the long-lived process --------------------------------------------------------


def test_two_scheduler_processes_publish_each_missed_period_once(engine, db_url, history, tmp_path):
    env = scheduler_env(db_url, tmp_path)
    processes = [
        subprocess.Popen(
            scheduler_command("--once", "--now", "2026-11-22"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        outputs.append(out + err)
        assert process.returncode == 0, out + err
    assert numbers(engine) == ["2026-09", "2026-10"]
    logs = "\n".join(outputs)
    for number in ("2026-09", "2026-10"):
        assert logs.count(f"published {number}:") == 1, logs
    with Session(engine) as s:
        publish_audits = s.exec(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "publish")
        ).one()
        assessments = s.exec(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "assess")).one()
    assert publish_audits == 2
    assert assessments == 2  # each process ran its nightly assessment, one after the other
    for output in outputs:
        assert "job assessment finished" in output and "job publication finished" in output


def test_a_failed_job_is_logged_and_does_not_stop_the_others(caplog, engine):
    def boom(_ctx: JobContext) -> str:
        raise RuntimeError("disk full")

    with caplog.at_level(logging.INFO, logger="credit.scheduler"):
        assert run_job(Job("boom", "a job that fails", boom, {"hour": 3}), JobContext(engine, D("2026-11-22"))) is False
        assert run_job(
            Job("fine", "a job that works", lambda _ctx: "ok", {"hour": 3}), JobContext(engine, D("2026-11-22"))
        )
    assert "job boom failed" in caplog.text and "disk full" in caplog.text
    assert "job fine finished" in caplog.text


def test_once_reports_failed_jobs_with_exit_status_1(tmp_path):
    # a database that was never initialised: every job fails, each is tried and logged
    env = scheduler_env(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    result = subprocess.run(
        scheduler_command("--once", "--now", "2026-11-22"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    for job in ("assessment", "listing-expiry", "publication"):
        assert f"job {job} failed" in result.stderr, result.stderr
    assert "Traceback" in result.stderr  # the log keeps the details for the operator
    assert result.stderr.strip().splitlines()[-1].startswith("错误:")


def test_the_scheduler_process_catches_up_at_start_and_stops_on_sigterm(engine, db_url, history, tmp_path):
    process = subprocess.Popen(
        scheduler_command("--now", "2026-11-22"),
        cwd=ROOT,
        env=scheduler_env(db_url, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        while not any("scheduler started" in line for line in seen):
            seen.append(lines.get(timeout=120))
        assert numbers(engine) == ["2026-09", "2026-10"]  # caught up before the first scheduled run
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=10)
    while not lines.empty():
        seen.append(lines.get())
    log = "".join(seen)
    assert "job publication finished" in log and "scheduler stopped" in log
    assert "monthly publications" in log
