"""The clock: today in Beijing, fixed by a test or by CREDIT_TODAY for a process, never by the wall clock
alone in the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from credit import clock
from credit.models import utcnow

ROOT = Path(__file__).resolve().parents[1]


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


def test_staff_pages_say_when_the_date_is_fixed(app, client, auth):
    app.testing = False  # the suite's own pages stay quiet; a training copy shows the banner
    auth.login_as("admin")
    assert "本系统的日期已固定为 2026-11-22" in client.get("/admin/").get_data(as_text=True)
    auth.logout()
    assert "本系统的日期已固定" not in client.get("/").get_data(as_text=True)


def test_a_command_on_a_database_never_initialised_says_what_to_do(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "SECRET_KEY": "t"}
    env["CREDIT_INSTANCE_DIR"] = str(tmp_path)
    args = [sys.executable, "-m", "flask", "--app", "wsgi", "credit", "calendar", "show", "2026"]
    result = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1
    assert "请先运行 flask credit init" in result.stderr and "Traceback" not in result.stderr
