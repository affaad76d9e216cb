"""A throwaway PostgreSQL cluster for fault tests: `initdb` into a temporary directory, `pg_ctl` on a free
port, stopped and removed afterwards. Tests stop and start it at will; the shared server on 5432 is never
touched.

The server refuses to run as root, so when the tests run as root the cluster belongs to the `postgres`
user (or `PGCLUSTER_USER`) and every command runs through `runuser`."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess  # nosec B404 - the test suite runs PostgreSQL's own binaries
import tempfile
from pathlib import Path

# CI sets this: there a missing PostgreSQL is a failure, not a skip.
REQUIRED = os.environ.get("CREDIT_REQUIRE_PG_BINARIES") == "1"


def find_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries on this host (Debian: /usr/lib/postgresql/<major>/bin)."""
    if explicit := os.environ.get("PG_BIN_DIR"):
        return Path(explicit)
    candidates = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing_reason() -> str | None:
    """Why a throwaway cluster cannot be made here, or None when it can."""
    bin_dir = find_bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        return "PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql or set PG_BIN_DIR"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(os.environ.get("PGCLUSTER_USER", "postgres"))
        except KeyError:
            return "running as root and no `postgres` user to own the throwaway cluster (set PGCLUSTER_USER)"
        if shutil.which("runuser") is None:
            return "running as root and no `runuser` to start the throwaway cluster as another user"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayCluster:
    """One PostgreSQL cluster of our own: `start()`, `stop()` (immediate: as a crash would), `remove()`."""

    def __init__(self) -> None:
        self.bin_dir = find_bin_dir()
        assert self.bin_dir is not None
        self.root = Path(tempfile.mkdtemp(prefix="credit-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = os.environ.get("PGCLUSTER_USER", "postgres")
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"
        )

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / program), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.root)  # nosec B603
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr}\n{log[-2000:]}")
        return result

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        # Small and quick: no fsync (a test cluster), few connections, the socket in our own directory.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            "-c shared_buffers=16MB -c max_connections=30 -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` ends every connection at once, without a checkpoint: to the app, a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "status"]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0  # nosec B603

    def remove(self) -> None:
        if self.running():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
