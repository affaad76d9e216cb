"""The scheduler's jobs, declared as data: what runs, when (Beijing time), and the service it wraps.

A job is a thin wrapper: it opens its own unit of work (one transaction; for publications one per period),
takes a writer lock so that two schedulers never run the same work side by side, calls the service and
returns a one-line summary for the log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from credit.db import ensure_statistics, session_scope
from credit.models import Actor
from credit.services.assessment import assess_all
from credit.services.listings import expire_listings
from credit.services.publications import (
    MONTHLY,
    PERIOD_KINDS,
    QUARTERLY,
    PublicationError,
    periods_to_publish,
    publish_period,
    take_writer_lock,
)
from credit.services.signing import signer_for

log = logging.getLogger("credit.scheduler")

ACTOR = Actor(label="system:scheduler", source="scheduler")
PUBLISHED_BY = "scheduler"
# At most this many missed periods are published at start, the newest ones (two years of months).
CATCH_UP_LIMIT = 24
# A period whose transaction fails on a transient database error (SQLite busy beyond its timeout, a
# dropped connection) is tried again a few times before the job gives up until its next run.
PUBLISH_ATTEMPTS = 3


@dataclass(frozen=True)
class JobContext:
    """What a job run needs: the database, the day it runs for, the publication period, and where the
    signing keys are (None: publications are sealed unsigned, which `flask credit verify` refuses)."""

    engine: Engine
    today: date
    period_kind: str = MONTHLY
    key_dir: Path | None = None


@dataclass(frozen=True)
class Job:
    """One periodic job: an id for the log, what it does, the service call, and its cron fields."""

    id: str
    description: str
    run: Callable[[JobContext], str]
    cron: Mapping[str, int | str]


def run_assessment(ctx: JobContext) -> str:
    """Assess every firm as of today: windows expire with time, so grades and lists change overnight."""
    ensure_statistics(ctx.engine)  # a database never analysed plans the per-firm subqueries badly
    with session_scope(ctx.engine, ACTOR) as session:
        take_writer_lock(session, "nightly")
        run = assess_all(session, as_of=ctx.today)
    return (
        f"{run.firms} firms as of {run.as_of} under rule set v{run.rule_set_version}: "
        f"{run.black_proposed} black proposed, {run.red_listed} red listed, {run.red_renewed} red renewed"
    )


def run_listing_expiry(ctx: JobContext) -> str:
    """End every listing whose term is over today."""
    with session_scope(ctx.engine, ACTOR) as session:
        take_writer_lock(session, "nightly")
        ended = expire_listings(session, ctx.today)
    return f"{ended} listings ended as of {ctx.today}"


def publish_due(ctx: JobContext, *, limit: int = CATCH_UP_LIMIT) -> list[tuple[str, bool]]:
    """Publish every ended period not yet published, oldest first, each in its own transaction; returns
    (number, created) per period. Safe to run in two processes at once: the writer lock and the unique
    number leave exactly one publication per period."""
    with session_scope(ctx.engine, ACTOR) as session:
        periods = periods_to_publish(session, today=ctx.today, kind=ctx.period_kind)
    if len(periods) > limit:
        log.warning("catch-up: %d periods missed, publishing the newest %d only", len(periods), limit)
        periods = periods[-limit:]
    done: list[tuple[str, bool]] = []
    for period in periods:
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                with session_scope(ctx.engine, ACTOR) as session:
                    signer = signer_for(session, ctx.key_dir) if ctx.key_dir is not None else None
                    result = publish_period(session, period, published_by=PUBLISHED_BY, today=ctx.today, signer=signer)
                    number, created = result.publication.number, result.created
                    counts = (result.publication.red_count, result.publication.black_count)
                break
            except OperationalError:
                if attempt == PUBLISH_ATTEMPTS:
                    raise
                log.warning("publication %s: transient database error, attempt %d", period, attempt, exc_info=True)
                time.sleep(attempt)
        if created:
            log.info("published %s: %d red, %d black", number, *counts)
            store_downloads(ctx.engine, number)
        else:
            log.info("publication %s exists already, nothing written", number)
        done.append((number, created))
    return done


def store_downloads(engine, number: str) -> None:
    """Write a new publication's downloads (CSV, XLSX, JSON) in a transaction of their own, the publication
    being committed already: no visitor's first download then waits for, or times out on, a large
    workbook. A failure is logged; the first download writes them instead."""
    from credit.services.publications import get_publication, store_exports

    try:
        with session_scope(engine, ACTOR) as session:
            publication = get_publication(session, number)
            if publication is not None:
                store_exports(session, publication)
    except Exception:  # the downloads are a convenience: the publication stands
        log.warning("publication %s: downloads not written now, the first request will", number, exc_info=True)


def run_publication(ctx: JobContext) -> str:
    """Publish the periods that ended and are not yet published (catch-up included)."""
    done = publish_due(ctx)
    created = [number for number, was_created in done if was_created]
    if not done:
        return "nothing due"
    return f"{len(created)} published ({', '.join(created) or '-'}), {len(done) - len(created)} already there"


NIGHTLY_ASSESSMENT = Job("assessment", "nightly assessment of every firm", run_assessment, {"hour": 1, "minute": 0})
# After the assessment, which renews the red listings of firms still eligible before their term runs out.
LISTING_EXPIRY = Job("listing-expiry", "nightly listing expiry", run_listing_expiry, {"hour": 1, "minute": 30})
PUBLICATION = {
    MONTHLY: Job("publication", "monthly publication", run_publication, {"day": 1, "hour": 2, "minute": 0}),
    QUARTERLY: Job(
        "publication",
        "quarterly publication",
        run_publication,
        {"month": "1,4,7,10", "day": 1, "hour": 2, "minute": 0},
    ),
}
JOBS: dict[str, tuple[Job, ...]] = {
    kind: (NIGHTLY_ASSESSMENT, LISTING_EXPIRY, PUBLICATION[kind]) for kind in (MONTHLY, QUARTERLY)
}


def jobs_for(period_kind: str) -> tuple[Job, ...]:
    """The jobs of a scheduler publishing `monthly` or `quarterly`, in the order they run at night."""
    if period_kind not in JOBS:
        raise PublicationError(f"发布周期须为 {' 或 '.join(PERIOD_KINDS)},实为「{period_kind}」")
    return JOBS[period_kind]
