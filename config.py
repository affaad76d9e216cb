"""Configuration classes, read from the environment. No Flask import: the CLI, the scheduler and the
tests read the same settings."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("CREDIT_INSTANCE_DIR", BASE_DIR / "instance"))


def default_database_url() -> str:
    """The embedded default: an SQLite file under instance/."""
    return f"sqlite:///{INSTANCE_DIR / 'credit.db'}"


def normalise_database_url(url: str) -> str:
    """Accept the common `postgres://` and `postgresql://` spellings and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_secret_key() -> str:
    """SECRET_KEY from the environment, else a random key kept in instance/secret_key (never in the repo).

    Several hosts behind one proxy must share the key: set SECRET_KEY there."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = INSTANCE_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


class Config:
    """Production defaults; every value can be set through the environment."""

    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("DATABASE_URL") or default_database_url())
    SQL_ECHO = os.environ.get("SQL_ECHO") == "1"
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")
    FIRMS_PER_PAGE = 50
    # Firm search counts matches up to this many, then shows "1,000+" (credit.services.firm_search).
    SEARCH_COUNT_CAP = int(os.environ.get("SEARCH_COUNT_CAP", "1000"))
    # Text of 1–2 characters (too short for the trigram index) is looked for among this many names per page.
    SEARCH_SCAN_WINDOW = int(os.environ.get("SEARCH_SCAN_WINDOW", "5000"))
    # How long browsers and proxies may keep a publication download before asking again (seconds).
    PUBLICATION_MAX_AGE = int(os.environ.get("PUBLICATION_MAX_AGE", "3600"))
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    REMEMBER_COOKIE_HTTPONLY = True
    # A staff session ends after this long without a request, and this long after the log-in at most
    # (等保 2.0 session control); 0 turns either off.
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "30"))
    SESSION_MAX_HOURS = int(os.environ.get("SESSION_MAX_HOURS", "12"))
    # After 3 failed log-ins of one name from one address, each further attempt waits this long, doubling.
    LOGIN_BACKOFF_SECONDS = int(os.environ.get("LOGIN_BACKOFF_SECONDS", "2"))
    MAX_CONTENT_LENGTH = 64 * 1024 * 1024  # uploads: a spreadsheet of a million rows fits
    # Import files (credit.services.tabular.ReadLimits, docs/security.md): XLSX zip directory ceilings
    # checked before anything inflates, row/column/token ceilings while reading; CSV bytes and rows.
    UPLOAD_XLSX_MAX_MEMBERS = int(os.environ.get("UPLOAD_XLSX_MAX_MEMBERS", "1000"))
    UPLOAD_XLSX_MAX_MEMBER_BYTES = int(os.environ.get("UPLOAD_XLSX_MAX_MEMBER_BYTES", str(512 * 1024 * 1024)))
    UPLOAD_XLSX_MAX_TOTAL_BYTES = int(os.environ.get("UPLOAD_XLSX_MAX_TOTAL_BYTES", str(1024 * 1024 * 1024)))
    UPLOAD_XLSX_MAX_RATIO = int(os.environ.get("UPLOAD_XLSX_MAX_RATIO", "200"))
    UPLOAD_XLSX_MAX_ROWS = int(os.environ.get("UPLOAD_XLSX_MAX_ROWS", "1048576"))
    UPLOAD_XLSX_MAX_COLUMNS = int(os.environ.get("UPLOAD_XLSX_MAX_COLUMNS", "256"))
    UPLOAD_XLSX_MAX_TOKEN_BYTES = int(os.environ.get("UPLOAD_XLSX_MAX_TOKEN_BYTES", str(1024 * 1024)))
    UPLOAD_CSV_MAX_BYTES = int(os.environ.get("UPLOAD_CSV_MAX_BYTES", str(512 * 1024 * 1024)))
    UPLOAD_CSV_MAX_ROWS = int(os.environ.get("UPLOAD_CSV_MAX_ROWS", "2000000"))
    # Number of reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
    # The bureau's name on notices (告知书) and the Atom feed's tag authority (default: PUBLIC_BASE_URL's host).
    BUREAU_NAME = os.environ.get("BUREAU_NAME", "东莞市市场监督管理局")
    FEED_TAG_AUTHORITY = os.environ.get("FEED_TAG_AUTHORITY", "")
    # The site's public root, for every absolute link (Atom feed, notices): never the request's Host
    # header. Production must set it (https://credit.example.gov.cn); unset, SERVER_NAME or
    # http://127.0.0.1:5000 is used and a warning logged (credit.web.helpers.resolve_public_base_url).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
    # The public objection form's offline anti-abuse: minimum seconds to fill it in, how long its signed
    # token lives, and how many petitions one address may file a day.
    PETITION_MIN_SECONDS = int(os.environ.get("PETITION_MIN_SECONDS", "5"))
    PETITION_MAX_AGE = int(os.environ.get("PETITION_MAX_AGE", "7200"))
    PETITION_DAILY_LIMIT = int(os.environ.get("PETITION_DAILY_LIMIT", "5"))
    # The private halves of the bureau's Ed25519 signing keys (docs/security.md): outside the database and
    # the repository, readable by the app's user only; back it up with the database.
    SIGNING_KEY_DIR = Path(os.environ.get("SIGNING_KEY_DIR", INSTANCE_DIR / "signing"))
    # The admin home page warns this many days before a year without a working-day calendar begins (the
    # State Council publishes the next year's holidays in October or November).
    CALENDAR_WARN_DAYS = int(os.environ.get("CALENDAR_WARN_DAYS", "75"))
    # 工作台 (issue 12): rows listed per work queue; an API key unused this many days is flagged to admins.
    WORK_QUEUE_ITEMS = int(os.environ.get("WORK_QUEUE_ITEMS", "10"))
    API_KEY_STALE_DAYS = int(os.environ.get("API_KEY_STALE_DAYS", "90"))
    # The API's per-key rate limit (docs/api.md): at most API_RATE_LIMIT requests per API_RATE_WINDOW
    # seconds, counted in the database so that it holds across workers and hosts; 0 turns it off.
    API_RATE_LIMIT = int(os.environ.get("API_RATE_LIMIT", "600"))
    API_RATE_WINDOW = max(1, int(os.environ.get("API_RATE_WINDOW", "60")))
    # While the database cannot serve (down, restarting, locked), pages and the API answer 503 with this
    # Retry-After (seconds); credit.db reconnects by itself once it is back.
    DATABASE_RETRY_AFTER = int(os.environ.get("DATABASE_RETRY_AFTER", "30"))

    # Webhooks (docs/webhooks.md): the hosts (names, `*.domain`) and CIDR networks deliveries may go to —
    # nothing until the admin allows it; loopback, link-local and private addresses only inside an
    # allowed network. Timeouts, the worker's lease and the retry schedule (exponential with jitter,
    # for WEBHOOK_RETRY_WINDOW_HOURS, then parked).
    WEBHOOK_ALLOWED_HOSTS = os.environ.get("WEBHOOK_ALLOWED_HOSTS", "")
    WEBHOOK_ALLOWED_NETWORKS = os.environ.get("WEBHOOK_ALLOWED_NETWORKS", "")
    WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
    WEBHOOK_LEASE_SECONDS = float(os.environ.get("WEBHOOK_LEASE_SECONDS", "60"))
    WEBHOOK_RETRY_BASE_SECONDS = float(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "10"))
    WEBHOOK_RETRY_MAX_SECONDS = float(os.environ.get("WEBHOOK_RETRY_MAX_SECONDS", "3600"))
    WEBHOOK_RETRY_WINDOW_HOURS = float(os.environ.get("WEBHOOK_RETRY_WINDOW_HOURS", "24"))
    WEBHOOK_BATCH = int(os.environ.get("WEBHOOK_BATCH", "50"))

    def __init__(self) -> None:
        self.SECRET_KEY = load_secret_key()


class TestConfig(Config):
    """The test suite: DATABASE_URL comes from the fixture; CSRF stays on so tests prove it."""

    TESTING = True
    SECRET_KEY = "test-only-not-secret"  # noqa: S105 - the test suite only
    LOGIN_BACKOFF_SECONDS = 0  # tests of the back-off turn it on
    PUBLIC_BASE_URL = "http://localhost"  # the test client's host; tests of the base URL set their own

    def __init__(self) -> None:  # no instance/secret_key file for tests
        pass
