"""Running the jobs: once (cron, tests, catch-up by hand) or as a long-lived APScheduler process.

Every job run is logged (start, end with its summary and duration, or the failure with its traceback); a
failed job never stops the process. At start the scheduler catches up: every period that ended while it
was down is published, oldest first, before the first scheduled run.

A run that fails (the database down or restarting, most often) is tried again: after 1 minute, then 2, 4…
up to an hour between tries, until it succeeds or its next regular time comes. The process itself never
exits for a failed job, so a database outage is a few logged failures, not a crash loop."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from credit import clock
from credit.scheduler.jobs import PUBLICATION, Job, JobContext, jobs_for
from credit.services.publications import MONTHLY, PERIOD_KINDS, PublicationError

log = logging.getLogger("credit.scheduler")

# Jobs run one after another (one worker thread), so the nightly expiry never overlaps the assessment;
# a run that was missed (host asleep, a long job before it) still runs within this many seconds.
MISFIRE_GRACE_SECONDS = 6 * 3600
# A failed run is tried again after this many seconds, doubling up to the ceiling.
RETRY_FIRST_SECONDS = 60
RETRY_MAX_SECONDS = 3600


def period_kind_from_env() -> str:
    """`PUBLICATION_PERIOD`: monthly (the default) or quarterly."""
    kind = (os.environ.get("PUBLICATION_PERIOD") or MONTHLY).strip().lower()
    if kind not in PERIOD_KINDS:
        raise PublicationError(f"PUBLICATION_PERIOD 须为 {' 或 '.join(PERIOD_KINDS)},实为「{kind}」")
    return kind


def run_job(job: Job, ctx: JobContext) -> bool:
    """Run one job and log how it went; True when it succeeded. Never raises."""
    started = time.monotonic()
    log.info("job %s started (as of %s)", job.id, ctx.today)
    try:
        summary = job.run(ctx)
    except Exception:
        log.exception("job %s failed after %.1fs", job.id, time.monotonic() - started)
        return False
    log.info("job %s finished in %.1fs: %s", job.id, time.monotonic() - started, summary)
    return True


def run_once(engine: Engine, *, period_kind: str, today: date | None = None, key_dir: Path | None = None) -> bool:
    """Run every job once for `today` (default: today in Beijing time), in their nightly order; True when
    all succeeded. The publication job publishes only what is due, so running this daily from cron is
    the scheduler without the long-lived process."""
    ctx = JobContext(engine=engine, today=today or clock.today(), period_kind=period_kind, key_dir=key_dir)
    results = [run_job(job, ctx) for job in jobs_for(period_kind)]
    return all(results)


def retry_delay(previous: int | None) -> int:
    """Seconds before the next try of a failed run: 60 for the first, then doubling, at most an hour."""
    return RETRY_FIRST_SECONDS if previous is None else min(previous * 2, RETRY_MAX_SECONDS)


def retry_job_id(job: Job) -> str:
    return f"{job.id}:retry"


def _scheduled(
    job: Job,
    engine: Engine,
    period_kind: str,
    today: Callable[[], date],
    scheduler: Any = None,
    delay: int | None = None,
    *,
    key_dir: Path | None = None,
) -> bool:
    """One run of `job` from the scheduler; a failure schedules a one-off retry (`retry_delay`) unless the
    job's regular run comes first. Returns whether the run succeeded."""
    ok = run_job(job, JobContext(engine=engine, today=today(), period_kind=period_kind, key_dir=key_dir))
    if ok or scheduler is None:
        return ok
    wait = retry_delay(delay)
    when = datetime.now(clock.BUREAU_TZ) + timedelta(seconds=wait)  # when to run, not a "today": the wall clock
    regular = scheduler.get_job(job.id)
    if regular is not None and regular.next_run_time is not None and regular.next_run_time <= when:
        log.warning("job %s failed: its next regular run at %s comes first", job.id, regular.next_run_time)
        return ok
    scheduler.add_job(
        _scheduled,
        "date",
        run_date=when,
        args=(job, engine, period_kind, today, scheduler, wait),
        kwargs={"key_dir": key_dir},
        id=retry_job_id(job),
        name=f"retry of {job.description}",
        replace_existing=True,
    )
    log.warning("job %s failed: trying again in %d s", job.id, wait)
    return ok


def run_scheduler(
    engine: Engine,
    *,
    period_kind: str | None = None,
    now: date | None = None,
    once: bool = False,
    key_dir: Path | None = None,
) -> bool:
    """The scheduler process. `once`: run every job once and return. Otherwise catch up on publications
    (as of `now`, default today), then block, running each job at its time until SIGTERM or Ctrl-C.
    Returns False when a job of a `once` run failed."""
    kind = period_kind or period_kind_from_env()
    jobs = jobs_for(kind)
    if once:
        return run_once(engine, period_kind=kind, today=now, key_dir=key_dir)

    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    run_job(PUBLICATION[kind], JobContext(engine=engine, today=now or clock.today(), period_kind=kind, key_dir=key_dir))
    scheduler = BlockingScheduler(
        timezone=clock.BUREAU_TZ,
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
    )
    for job in jobs:
        scheduler.add_job(
            _scheduled,
            CronTrigger(timezone=clock.BUREAU_TZ, **job.cron),
            args=(job, engine, kind, clock.today, scheduler),
            kwargs={"key_dir": key_dir},
            id=job.id,
            name=job.description,
        )

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping the scheduler", signum)
        raise SystemExit(0)  # leaves start() wherever the main thread waits; a running job finishes

    try:
        signal.signal(signal.SIGTERM, _stop)
        log.info("scheduler started (%s publications): %s", kind, ", ".join(job.id for job in jobs))
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
    log.info("scheduler stopped")
    return True
