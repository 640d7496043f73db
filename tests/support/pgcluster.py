"""A throwaway PostgreSQL cluster of a test's own, which the test may stop and start again.

The outage tests stop the database under a running server; they must never touch the shared
server on 5432 (other test sessions use it). So a cluster is made here with Debian's ``initdb``
and ``pg_ctl`` in a temporary directory, listening on a free loopback port with trust
authentication, and removed at the end. ``initdb`` refuses to run as root: when the tests run as
root, every cluster command runs as the ``postgres`` user (``runuser``), in a directory that
user owns. Every wait is bounded (``pg_ctl -w -t``)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.support.server import free_port

#: Seconds ``pg_ctl`` waits for a start or a stop to complete.
PG_CTL_TIMEOUT = 60


def _bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has ``initdb``, if any."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def skip_reason() -> str | None:
    """Why a cluster cannot be made here (None: it can)."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        return "no /usr/lib/postgresql/*/bin/initdb (install the Debian postgresql package)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    return None


class PgCluster:
    """One PostgreSQL cluster: ``init()`` once, then ``start()`` / ``stop(mode)`` on the same
    port as often as a test likes; ``destroy()`` stops it and removes its files."""

    def __init__(self, port: int | None = None) -> None:
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise RuntimeError(skip_reason())
        self.bin = bin_dir
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="etest-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            self.socket_dir.mkdir()
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        else:
            self.socket_dir.mkdir()

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=PG_CTL_TIMEOUT + 30, check=False
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n"
                f"{result.stderr}\n{self.log_tail()}"
            )
        return result

    def init(self) -> PgCluster:
        """Create the cluster (trust authentication, superuser ``postgres``, no fsync: a test
        cluster trades durability against an OS crash for speed, not against a server stop)."""
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-N",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 100\nshared_buffers = 32MB\n"
            )
        return self

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            str(PG_CTL_TIMEOUT),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """``fast``: sessions are terminated (``57P01``), the server shuts down cleanly;
        ``immediate``: the server exits at once (like a crash; recovery at the next start)."""
        assert mode in ("smart", "fast", "immediate"), mode
        self._run(
            "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", str(PG_CTL_TIMEOUT), "stop"
        )

    @property
    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str = "etest") -> str:
        """A new database; returns its SQLAlchemy URL."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def migrate(self, url: str, env: dict[str, str] | None = None) -> None:
        """``etest db upgrade`` on ``url``: the migrations and the reference data, as an
        operator runs them (``env``: more environment, e.g. ``PYTHONPATH`` of older code)."""
        etest = Path(sys.executable).with_name("etest")
        cmd = [str(etest)] if etest.exists() else [sys.executable, "-m", "etest.cli"]
        env = {
            **os.environ,
            "ETEST_DATABASE_URL": url,
            "ETEST_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        result = subprocess.run(
            [*cmd, "db", "upgrade"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"etest db upgrade failed:\n{result.stdout}\n{result.stderr}")

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            if self.running:
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no postgres log)"


@contextlib.contextmanager
def pg_cluster(
    database: str = "etest", env: dict[str, str] | None = None
) -> Iterator[tuple[PgCluster, str]]:
    """A started cluster with one migrated database; yields the cluster and the database URL.
    The cluster is stopped and removed afterwards, whatever happened."""
    cluster = PgCluster()
    try:
        cluster.init()
        cluster.start()
        url = cluster.create_database(database)
        cluster.migrate(url, env)
        yield cluster, url
    finally:
        cluster.destroy()
