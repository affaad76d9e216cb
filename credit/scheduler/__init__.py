"""The scheduler process (`flask credit scheduler`): nightly assessment and listing expiry, periodic
publication with catch-up at start. It runs in its own process, never in a web worker, and imports no
Flask: the command hands it an engine."""

from credit.scheduler.jobs import JOBS, Job, JobContext, jobs_for
from credit.scheduler.runner import run_scheduler

__all__ = ["JOBS", "Job", "JobContext", "jobs_for", "run_scheduler"]
