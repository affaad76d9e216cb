"""The clock: today in Beijing, fixed by a test or by CREDIT_TODAY for a process, never by the wall clock
alone in the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest

from credit import clock
from credit.models import utcnow


def test_the_suite_runs_on_a_fixed_day():
    assert clock.today() == date.fromisoformat(os.environ["CREDIT_TODAY"])
    assert clock.fixed_today() == clock.today()


def test_today_is_moves_the_clock_for_a_block_only():
    before = clock.today()
    with clock.today_is("2027-01-04") as day:
        assert day == clock.today() == date(2027, 1, 4)
        assert utcnow().astimezone(clock.BUREAU_TZ).date() == date(2027, 1, 4)
    assert clock.today() == before


def test_a_fixed_day_still_has_a_running_clock():
    first = clock.now()
    second = clock.now()
    assert first.tzinfo is not None and second >= first
    assert first.astimezone(clock.BUREAU_TZ).date() == clock.today()


def test_without_a_fixed_day_today_is_beijing_time():
    clock.set_today(None)
    real = datetime.now(UTC)
    assert clock.today() in {(real + timedelta(hours=8)).date(), (datetime.now(UTC) + timedelta(hours=8)).date()}
    assert clock.fixed_today() is None
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 5


def test_a_process_takes_its_day_from_the_environment():
    code = "from credit import clock; print(clock.today(), clock.fixed_today())"
    env = {**os.environ, "CREDIT_TODAY": "2025-09-26"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2025-09-26", "2025-09-26"]
    env["CREDIT_TODAY"] = "2025-02-30"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "CREDIT_TODAY" in bad.stderr


@pytest.mark.parametrize("text", ["2026-11-23", "9999-12-31", "0001-01-01", "1989-12-31"])
def test_dates_after_today_or_before_1990_are_refused(text):
    with pytest.raises(clock.FutureDate):
        clock.parse_past_date(text, field="as_of")


def test_today_and_1990_are_accepted():
    assert clock.parse_past_date(clock.today().isoformat()) == clock.today()
    assert clock.parse_past_date("1990-01-01") == date(1990, 1, 1)
