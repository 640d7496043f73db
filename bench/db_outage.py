"""Database outage: what clients see while PostgreSQL is stopped under a running server.

A throwaway PostgreSQL cluster (``tests/support/pgcluster.py``, never the shared server) and one
``uvicorn`` process of eTest on it; ``--clients`` clients, each on one keep-alive connection,
read the admin API and take a placement test (``tests/support/outage.py``). The database is
stopped (``--mode fast``: sessions terminated, clean shutdown; ``immediate``: like a crash) once
every client has two answers acknowledged, kept down at least ``--down`` seconds, then started.
Printed per outage: the answers by status in each phase (before, down, after), the dropped
ones (a connection that failed without an answer), the connections each client needed (1: kept
throughout), the slowest and median answer per phase, the time from the database's start to the
first success, and whether an acknowledged answer was lost.

``--baseline REV`` runs the server (and the migrations) from the source of revision ``REV``
(``git archive`` into a temporary directory, put first on ``PYTHONPATH``): the behaviour before
a change, measured by the same clients in the same run of this script.

    .venv/bin/python bench/db_outage.py                      # this checkout, fast and immediate
    .venv/bin/python bench/db_outage.py --baseline 6661294   # the same before the 503 handling
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.outage import Outage, prepare, run_outage  # noqa: E402
from tests.support.pgcluster import pg_cluster, skip_reason  # noqa: E402
from tests.support.server import Server  # noqa: E402


class BaselineServer(Server):
    """A server of older code, ready when ``/health`` answers: a baseline revision's
    ``/ready`` need not work (6661294's calls functions its ``etest.db`` does not have yet)."""

    def wait_ready(self, started: float) -> float:
        deadline = started + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the baseline server did not start:\n{self.log_tail()}")


@contextlib.contextmanager
def source_of(rev: str | None) -> Iterator[dict[str, str]]:
    """The environment that runs eTest from revision ``rev`` (empty: this checkout)."""
    if rev is None:
        yield {}
        return
    with tempfile.TemporaryDirectory(prefix="etest-baseline-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "src", "migrations", "alembic.ini"],
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        yield {"PYTHONPATH": str(Path(tmp) / "src")}


def show(label: str, outage: Outage) -> None:
    dropped = outage.sent - outage.answered
    print(f"\n== {label}: stop -m {outage.mode}, database down {outage.down_seconds:.1f} s")
    for phase, counts in outage.counts.items():
        by_status = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        print(
            f"  {phase:<7} {by_status:<40} slowest {outage.slowest[phase]:6.2f} s, "
            f"median {outage.median[phase]:6.3f} s"
        )
    print(f"  requests {outage.sent}, answered {outage.answered}, dropped {dropped}")
    print(f"  connections per client: {outage.connections} (1 = kept throughout)")
    if outage.ready_down:
        ready = outage.ready_down[0]
        print(f"  /ready while down: {ready['status']} {ready.get('reason', ready.get('detail'))}")
    print(f"  /health while down: {outage.health_down}")
    recover = "never" if outage.recover_seconds is None else f"{outage.recover_seconds:.2f} s"
    print(
        f"  pg_ctl start took {outage.start_seconds:.2f} s; first success {recover} after it; "
        f"/ready after: {outage.ready_after}"
    )
    print(f"  acknowledged answers lost: {sum(len(v) for v in outage.lost.values())}")
    for line in outage.bad[:5]:
        print(f"  ! {line[:200]}")
    if len(outage.bad) > 5:
        print(f"  ! ... {len(outage.bad) - 5} more")


async def ping_cost(url: str, n: int = 1000, rounds: int = 7) -> dict[str, float]:
    """Microseconds per checkout + ``SELECT 1`` (what every request on SQLAlchemy's pool pays
    at least) with ``pool_pre_ping`` on and off, and per bare ``SELECT 1`` on a held
    connection (the round trip the ping adds), interleaved in rounds; the best round of each.
    On a shared machine the first two differ by less than their noise: the third is the cost."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engines = {
        ping: create_async_engine(url, pool_size=2, max_overflow=0, pool_pre_ping=ping)
        for ping in (True, False)
    }
    best = {"pre_ping_us": float("inf"), "no_pre_ping_us": float("inf"), "select_1_us": 1e9}
    try:
        for _ in range(rounds):
            for ping, engine in engines.items():
                started = time.perf_counter()
                for _ in range(n):
                    async with engine.connect() as conn:
                        await conn.execute(text("SELECT 1"))
                key = "pre_ping_us" if ping else "no_pre_ping_us"
                best[key] = min(best[key], (time.perf_counter() - started) / n * 1e6)
            async with engines[False].connect() as conn:
                started = time.perf_counter()
                for _ in range(n):
                    await conn.execute(text("SELECT 1"))
                best["select_1_us"] = min(
                    best["select_1_us"], (time.perf_counter() - started) / n * 1e6
                )
    finally:
        for engine in engines.values():
            await engine.dispose()
    print(
        f"\n== pool_pre_ping: checkout + SELECT 1 = {best['pre_ping_us']:.0f} µs with it, "
        f"{best['no_pre_ping_us']:.0f} µs without; a bare SELECT 1 (the ping's round trip) "
        f"{best['select_1_us']:.0f} µs (best of {rounds} rounds of {n})"
    )
    return best


async def measure(rev: str | None, modes: list[str], clients: int, down: float) -> list[Outage]:
    outages = []
    with source_of(rev) as env, pg_cluster(env=env) as (cluster, url):
        var = Path(tempfile.mkdtemp(prefix="etest-outage-"))
        prepared = await prepare(url, var, clients * len(modes))
        if rev is None:
            await ping_cost(url)
        os.environ.update(env)  # the server's environment is this process's
        server = (BaselineServer if rev else Server)(prepared.settings, var)
        try:
            await server.astart()
            for i, mode in enumerate(modes):
                outage = await run_outage(
                    cluster,
                    server,
                    prepared,
                    clients=clients,
                    mode=mode,
                    first=i * clients,
                    min_down=down,
                )
                show(rev or "this checkout", outage)
                outages.append(outage)
        finally:
            server.kill()
            for key in env:
                os.environ.pop(key, None)
        print(f"  (server log: {server.log_path})")
    return outages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--mode", choices=["fast", "immediate", "both"], default="both")
    parser.add_argument("--down", type=float, default=5.0, help="seconds the database stays down")
    parser.add_argument("--baseline", metavar="REV", help="also measure revision REV first")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    reason = skip_reason()
    if reason:
        sys.exit(f"cannot make a PostgreSQL cluster: {reason}")
    modes = ["fast", "immediate"] if args.mode == "both" else [args.mode]
    results: dict[str, list[dict[str, object]]] = {}
    for rev in ([args.baseline] if args.baseline else []) + [None]:
        found = asyncio.run(measure(rev, modes, args.clients, args.down))
        results[rev or "HEAD"] = [dataclasses.asdict(o) for o in found]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
