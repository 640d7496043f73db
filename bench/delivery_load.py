"""Delivery load: one ``etest serve`` process on PostgreSQL, candidates driven over loopback.

1. Driver check: httpx's AsyncClient and aiohttp against a hello app (uvicorn, no database);
   the faster one (aiohttp) drives everything below.
2. Saturation: N candidates (default 50 and 200) with no think time take full placement tests
   (the demo bank's adaptive ``pt_neo_plus``) back to back. A *step* is GET the current item +
   POST its answer; reported: steps/s and p50/p95/p99 per step. The same driver runs the same
   N against the ceiling app in the same turn (bench/delivery_apps.py: Starlette + the same
   psycopg/async SQLAlchemy stack, the GET reads one row, the POST inserts one row); eTest's
   steps/s as a fraction of the ceiling's is the figure to watch (target >= 0.65).
3. Capacity: candidates who think before each answer (exponential, mean 5 s) are added level by
   level (default 200 more at a time, from 200 to 1,600, each level held 20 s; newcomers arrive
   spread over the first 5 s) until the step p99 over the level's last 15 s passes 100 ms or any
   request fails; reported: the largest level held (target >= 1,000 on a 2-core machine).
4. Pages (``--pages N``, default the first saturation N): the same candidates at saturation
   through the candidate's pages (``/take``) as a browser without JavaScript does
   (``PageCandidates``; parsing in bench/delivery_pages.py); reported: server CPU per step
   against the API's at the same N (target: pages/API <= 1.5).

Old against new (``--baseline REV``, default 0cdec59, the revision before the delivery core's
renovation; ``--baseline none`` to skip): the revision is exported with ``git archive`` and
run beside the working tree (same venv, ``PYTHONPATH`` at its ``src``), on its own throwaway
database migrated and filled by its own code (that revision's ``prepare``), through the same
phases against the same ceiling. The two take turns in every phase (the ceiling too, first or
last in each N's turn), the order swapped from one phase to the next, and capacity runs in
rounds (old, new, new, old; the best round counts), so the shared machine's noise falls on
both; a side-by-side table (old, new, new/old) ends the run and goes into the JSON
(``comparison``; the old build's rows under ``baseline``).

Simulated candidates have an ability theta ~ N(0, 1) and answer right with the 3PL probability
of the item they are shown (the driver knows the bank's keys from the database, matched on the
item's text; the API never shows them). Finished candidates start again with a new token.

It makes its own throwaway database on 127.0.0.1:5432 (user postgres, trust auth), migrates it
like ``etest db upgrade``, loads the demo bank like ``etest demo``, creates candidates and
tokens in one transaction, and drops the database at the end. Loopback only; every phase is
bounded in time; the whole run takes 9-18 minutes with the baseline (a capacity ramp stops at the
first level past 1 s), about half that with ``--baseline none``, twice with ``--workers 1,2``.

Rate limits (``--baseline limits-off``): the "old" build is the working tree with
``ETEST_RATE_LIMIT_ENABLED=false``, the new one the same tree with them on (each build's server
gets the variable); the same phases, turns and comparison, and any 429 shows in ``errors``.

Run:  .venv/bin/python bench/delivery_load.py                 (writes bench/results/…json)
      .venv/bin/python bench/delivery_load.py --workers 1,2   (also etest serve --workers 2)
      .venv/bin/python bench/delivery_load.py --quick         (a 2-minute smoke run, no JSON)
      .venv/bin/python bench/delivery_load.py --baseline none (the working tree alone)
      .venv/bin/python bench/delivery_load.py --profile       (py-spy of the new server: API, pages)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ctypes
import functools
import io
import json
import math
import os
import platform
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from delivery_pages import document, item_of, page_index, start_form

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "delivery_load.json"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PEPPER = "bench-pepper-not-secret"
P99_LIMIT_MS = 100.0
LOOSE_P99_MS = 1000.0  # reported too: the reference plan's L-01 bound for an answer save
CEILING_TARGET = 0.65
CAPACITY_TARGET = 1000
PAGES_CPU_TARGET = 1.5  # server CPU per step through /take, as a multiple of the API's
BASELINE = "0cdec59"  # before the delivery core's renovation (issue 12)


# ---------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    base: str
    log: Path

    def pids(self) -> set[int]:
        """The process and its children (uvicorn's workers)."""
        pids = {self.popen.pid}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.popen.pid:
                    pids.add(int(stat.parent.name))
        return pids


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_pids() -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if "(postgres)" in stat.read_text():
                pids.append(int(stat.parent.name))
    return pids


def _machine_busy() -> float:
    """CPU seconds spent by every process on the machine (ours and anyone else's)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used per second of wall time by the server (and its workers), PostgreSQL (all its
    processes, including backends that start during the window) and this driver."""

    def __init__(self, proc: Proc) -> None:
        self.proc = proc

    def _snapshot(self) -> tuple[float, dict[int, float], dict[int, float], float, float]:
        server = {pid: _cpu(pid) for pid in self.proc.pids()}
        postgres = {pid: _cpu(pid) for pid in _postgres_pids()}
        return time.monotonic(), server, postgres, time.process_time(), _machine_busy()

    def __enter__(self) -> CpuMeter:
        self.start = self._snapshot()
        return self

    def __exit__(self, *_: object) -> None:
        self.end = self._snapshot()

    def per_second(self) -> dict[str, float]:
        t0, s0, p0, d0, m0 = self.start
        t1, s1, p1, d1, m1 = self.end
        wall = t1 - t0
        return {
            "server": round(sum(v - s0.get(k, 0.0) for k, v in s1.items()) / wall, 2),
            "postgres": round(sum(v - p0.get(k, 0.0) for k, v in p1.items()) / wall, 2),
            "driver": round((d1 - d0) / wall, 2),
            "machine": round((m1 - m0) / wall, 2),
        }

    def server_seconds(self) -> float:
        return sum(v - self.start[1].get(k, 0.0) for k, v in self.end[1].items())


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it if this benchmark dies first (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def serve(
    name: str,
    argv: list[str],
    env: dict[str, str],
    port: int,
    ready_path: str,
    tmp: Path,
    cwd: Path = ROOT,
) -> Iterator[Proc]:
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    proc = Proc(name, popen, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(proc.base + ready_path, timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield proc
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, 15)
            try:
                popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, 9)
                popen.wait(timeout=10)


def uvicorn_argv(app: str, port: int, *, factory: bool = False) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        *(["--factory"] if factory else []),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


def etest_argv(port: int, workers: int) -> list[str]:
    etest = Path(sys.executable).parent / "etest"
    return [
        str(etest),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


# ---------------------------------------------------------------------------- database


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    name = f"etest_bench_{uuid.uuid4().hex[:10]}"
    admin = make_url(ADMIN_URL).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Key:
    type: str
    key: dict[str, Any]
    a: float
    b: float
    c: float


def _media_url(ref: dict[str, Any] | None) -> str | None:
    return f"/media/{ref['media']}" if ref else None


def fingerprint(
    type_: str, prompt: str, stimulus: dict[str, Any] | None, options: list[dict[str, Any]]
) -> str:
    """What identifies an item in the candidate's view (options sorted: they are shuffled)."""
    stim = stimulus or {}
    return json.dumps(
        [
            type_,
            prompt,
            stim.get("text"),
            stim.get("image"),
            stim.get("audio"),
            sorted([o["id"], o.get("text"), o.get("image"), o.get("audio")] for o in options),
        ],
        sort_keys=True,
        default=str,
    )


async def prepare(url: str, var_dir: Path, n_tokens: int) -> tuple[list[str], dict[str, Key]]:
    """Migrate, load the demo bank, and make ``n_tokens`` candidates with a PT token each."""
    import etest.tasks  # noqa: F401  (registers the publish checks, as `etest demo` does)
    from etest import migrate
    from etest.cli import cli_actor
    from etest.config import Settings
    from etest.content.media import MediaStore
    from etest.content.service import import_content
    from etest.content.sources import sources_from_path
    from etest.db import create_engine, create_sessionmaker, transaction
    from etest.demo import DEMO_CONTENT, ensure_demo
    from etest.kit.secrets import digest, new_token_code
    from etest.models import Candidate, Item, Organization, TestToken
    from etest.models.base import utcnow
    from etest.plan.service import load_reference

    if not (DEMO_CONTENT / "pt_neo_plus.json").is_file():
        raise SystemExit("the demo bank (src/etest/data/demo with pt_neo_plus) is missing")
    await asyncio.to_thread(migrate.upgrade, url)
    settings = Settings(
        database_url=url,
        var_dir=var_dir,
        secret_key=PEPPER,
        log_level="ERROR",
        # The demo bank's quality is not measured here: a placement test whose flow sets no
        # evidence thresholds goes live without the settings' accuracy threshold.
        evidence_within_one_level=0.0,
    )
    engine = create_engine(settings)
    maker = create_sessionmaker(engine)
    try:
        async with transaction(maker) as session:
            await load_reference(session)
            await import_content(
                session,
                cli_actor(),
                MediaStore(settings.media_path),
                sources_from_path(DEMO_CONTENT),
                settings=settings,
            )
            demo = await ensure_demo(session, settings, cli_actor())
        codes: list[str] = []
        async with transaction(maker) as session:
            org = await session.scalar(select(Organization).where(Organization.uic == demo.uic))
            assert org is not None
            expires = utcnow() + timedelta(days=1)
            for n in range(n_tokens):
                candidate = Candidate(
                    id=uuid.uuid4(),
                    organization_id=org.id,
                    root_organization_id=org.root_id,
                    email=f"bench-{n}-{uuid.uuid4().hex[:8]}@example.org",
                    first_name="Bench",
                    last_name=str(n),
                )
                session.add(candidate)
                code = new_token_code()
                session.add(
                    TestToken(
                        candidate_id=candidate.id,
                        type="PT",
                        level=None,
                        scope="PT",
                        plan_code="neo_plus",
                        digest=digest(settings.pepper(), code),
                        expires_at=expires,
                        issued_by="bench",
                    )
                )
                codes.append(code)
        keys: dict[str, Key] = {}
        async with transaction(maker) as session:
            for item in (await session.scalars(select(Item))).all():
                keys[
                    fingerprint(
                        item.type,
                        item.prompt,
                        _view_stimulus(item.stimulus),
                        _view_options(item.options),
                    )
                ] = Key(
                    item.type, item.key, item.irt_a or 1.0, item.irt_b or 0.0, item.irt_c or 0.0
                )
    finally:
        await engine.dispose()
    return codes, keys


def _view_stimulus(stim: dict[str, Any] | None) -> dict[str, Any] | None:
    if not stim:
        return None
    return {
        "text": stim.get("text"),
        "image": _media_url(stim.get("image")),
        "audio": _media_url(stim.get("audio")),
    }


def _view_options(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": o["id"],
            "text": o.get("text"),
            "image": _media_url(o.get("image")),
            "audio": _media_url(o.get("audio")),
        }
        for o in options
    ]


def _option_view(o: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": o["id"],
        "text": o.get("text"),
        "image": (o.get("image") or {}).get("url"),
        "audio": (o.get("audio") or {}).get("url"),
    }


def answer_for(
    item: dict[str, Any], keys: dict[str, Key], theta: float, rng: random.Random
) -> tuple[Any, bool]:
    """The simulated candidate's answer (3PL: right with P(theta)); (answer, known item)."""
    stim = item.get("stimulus")
    view_stim = (
        None
        if not stim
        else {
            "text": stim.get("text"),
            "image": (stim.get("image") or {}).get("url"),
            "audio": (stim.get("audio") or {}).get("url"),
        }
    )
    options = [_option_view(o) for o in item["options"]]
    found = keys.get(fingerprint(item["type"], item["prompt"], view_stim, options))
    ids = [o["id"] for o in item["options"]]
    targets = [t["id"] for t in item["targets"]]
    return respond(found, item["type"], ids, targets, theta, rng)


def respond(
    found: Key | None,
    type_: str,
    ids: list[str],
    targets: list[str],
    theta: float,
    rng: random.Random,
) -> tuple[Any, bool]:
    """The answer (API shape) to an item whose key was ``found`` (or not: then a wrong one)
    among options ``ids`` and ``targets``; (answer, known item)."""
    if found is None:
        return _wrong(type_, {}, ids, targets), False
    p = found.c + (1 - found.c) / (1 + math.exp(-found.a * (theta - found.b)))
    if rng.random() < p:
        return _right(found.type, found.key), True
    return _wrong(found.type, found.key, ids, targets), True


def _right(type_: str, key: dict[str, Any]) -> Any:
    if type_ == "single_choice":
        return key["correct"][0]
    if type_ == "multiple_choice":
        return sorted(key["correct"])
    if type_ == "text_entry":
        return key["accepted"][0]
    if type_ == "ordering":
        return list(key["order"])
    return [list(p) for p in key["pairs"]]


def _wrong(type_: str, key: dict[str, Any], ids: list[str], targets: list[str]) -> Any:
    if type_ == "single_choice":
        return next((i for i in ids if i not in key.get("correct", [])), ids[0])
    if type_ == "multiple_choice":
        return [next((i for i in ids if i not in key.get("correct", [])), ids[0])]
    if type_ == "text_entry":
        return "zzz"
    if type_ == "ordering":
        return list(reversed(ids)) if list(reversed(ids)) != key.get("order") else ids
    pairs = [[o, t] for o, t in zip(ids, targets, strict=False)]
    if len(pairs) >= 2:
        pairs[0][1], pairs[1][1] = pairs[1][1], pairs[0][1]
    return pairs


# ---------------------------------------------------------------------------- builds

#: Run in a build's own tree (cwd) with its own src first on the path: that revision's
#: bench/delivery_load.py ``prepare`` migrates and fills the build's database with its code.
PREPARE = """\
import asyncio, dataclasses, json, sys
from pathlib import Path
sys.path.insert(0, str(Path("bench").resolve()))
from delivery_load import prepare
codes, keys = asyncio.run(prepare(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])))
Path(sys.argv[4]).write_text(json.dumps(
    {"codes": codes, "keys": {k: dataclasses.asdict(v) for k, v in keys.items()}}))
"""


@dataclass
class Build:
    """One version of eTest under test: the tree whose ``src`` its server imports, its own
    database and var dir, and its candidates' tokens. ``new`` is the working tree; ``old`` a
    revision exported with ``git archive`` (``--baseline``), run in the same venv."""

    name: str
    revision: str
    root: Path
    url: str
    var_dir: Path
    tokens: collections.deque[str] = field(default_factory=collections.deque)
    keys: dict[str, Key] = field(default_factory=dict)
    #: ``ETEST_RATE_LIMIT_ENABLED`` of its server (``--baseline limits-off``: the working tree
    #: with them off is the "old" build)
    rate_limits: bool = True

    @property
    def label(self) -> str:
        return f"{self.name} ({self.revision})"

    def env(self) -> dict[str, str]:
        return {
            "PYTHONPATH": str(self.root / "src"),
            "ETEST_DATABASE_URL": self.url,
            "ETEST_SECRET_KEY": PEPPER,
            "ETEST_VAR_DIR": str(self.var_dir),
            "ETEST_RATE_LIMIT_ENABLED": "true" if self.rate_limits else "false",
        }

    def prepare(self, n_tokens: int) -> None:
        """Tokens and keys from the build's own ``prepare``, run in a child process."""
        out = self.var_dir.parent / f"prepared-{self.name}.json"
        child = subprocess.run(
            [sys.executable, "-c", PREPARE, self.url, str(self.var_dir), str(n_tokens), str(out)],
            check=False,
            cwd=self.root,
            env={**os.environ, "PYTHONPATH": str(self.root / "src")},
        )
        if child.returncode:
            raise SystemExit(f"{self.label}: its prepare failed (its traceback is above)")
        data = json.loads(out.read_text())
        self.tokens = collections.deque(data["codes"])
        self.keys = {k: Key(**v) for k, v in data["keys"].items()}


def export(revision: str, into: Path) -> str:
    """``git archive`` of ``revision`` unpacked into ``into``; returns its short commit."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", f"{revision}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return commit


# ---------------------------------------------------------------------------- driver


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(pct(values, 0.50) * 1000, 1),
        "p95_ms": round(pct(values, 0.95) * 1000, 1),
        "p99_ms": round(pct(values, 0.99) * 1000, 1),
        "max_ms": round(max(values, default=float("nan")) * 1000, 1),
    }


@dataclass
class Record:
    """What the driver saw: steps as (completed at, seconds), starts, errors."""

    steps: list[tuple[float, float]] = field(default_factory=list)
    positions: list[tuple[float, int]] = field(default_factory=list)
    starts: list[tuple[float, float]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)
    tests: int = 0
    unknown_items: int = 0

    def window(self, t0: float, t1: float) -> dict[str, Any]:
        steps = [d for t, d in self.steps if t0 <= t < t1]
        starts = [d for t, d in self.starts if t0 <= t < t1]
        errors = [e for t, e in self.errors if t0 <= t < t1]
        return {
            "steps": len(steps),
            "steps_per_s": round(len(steps) / (t1 - t0), 1),
            **summary(steps),
            "starts": len(starts),
            "start_p99_ms": round(pct(starts, 0.99) * 1000, 1),
            "errors": len(errors),
            "error_samples": sorted(set(errors))[:5],
        }


class Candidates:
    """Simulated candidates against eTest's API, with aiohttp."""

    def __init__(
        self,
        base: str,
        tokens: collections.deque[str],
        keys: dict[str, Key],
        record: Record,
        think: float,
        seed: int,
    ) -> None:
        self.base, self.tokens, self.keys, self.record = base, tokens, keys, record
        self.think = think
        self.rng = random.Random(seed)
        self.stop_at = math.inf
        self.tasks: list[asyncio.Task[None]] = []
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=3)
        self.http = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=30)
        )

    async def close(self) -> None:
        self.stop_at = 0
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.http.close()

    def add(self, n: int, spread: float = 0.0) -> None:
        for _ in range(n):
            self.tasks.append(asyncio.create_task(self._user(self.rng.uniform(0, spread))))

    async def _call(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
    ) -> tuple[int, Any, float]:
        started = time.monotonic()
        async with self.http.request(method, self.base + path, json=body, headers=headers) as resp:
            data = await resp.json(content_type=None)
            return resp.status, data, time.monotonic() - started

    async def _thinks(self, rng: random.Random) -> bool:
        """Think before answering (exponential, capped at a minute); False when the run
        ended meanwhile."""
        if self.think:
            await asyncio.sleep(min(rng.expovariate(1 / self.think), 60))
        return time.monotonic() < self.stop_at

    async def _user(self, delay: float) -> None:
        await asyncio.sleep(delay)
        rng = random.Random(self.rng.random())
        while time.monotonic() < self.stop_at and self.tokens:
            try:
                await self._one_test(self.tokens.popleft(), rng)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed request: recorded, then a new test
                self.record.errors.append((time.monotonic(), f"{type(exc).__name__}: {exc}"))
                await asyncio.sleep(1)

    async def _one_test(self, token: str, rng: random.Random) -> None:
        status, body, took = await self._call("POST", "/api/v1/attempts", body={"token": token})
        if status != 201:
            self.record.errors.append((time.monotonic(), f"start {status}"))
            return
        self.record.starts.append((time.monotonic(), took))
        attempt = body["attempt_id"]
        headers = {"Authorization": f"Bearer {body['secret']}"}
        theta = rng.gauss(0, 1)
        for _ in range(100):
            if time.monotonic() >= self.stop_at:
                return
            status, current, get_took = await self._call(
                "GET", f"/api/v1/attempts/{attempt}/item", headers
            )
            if status != 200:
                self.record.errors.append((time.monotonic(), f"item {status}"))
                return
            if current["finished"]:
                self.record.tests += 1
                return
            item = current["item"]
            answer, known = answer_for(item, self.keys, theta, rng)
            self.record.unknown_items += not known
            if not await self._thinks(rng):
                return
            status, ack, post_took = await self._call(
                "POST",
                f"/api/v1/attempts/{attempt}/responses",
                headers,
                {"position": item["position"], "answer": answer},
            )
            if status != 200:
                self.record.errors.append(
                    (
                        time.monotonic(),
                        f"answer {status}: {ack.get('type') if isinstance(ack, dict) else ''}",
                    )
                )
                return
            self.record.steps.append((time.monotonic(), get_took + post_took))
            self.record.positions.append((time.monotonic(), item["position"]))
        self.record.errors.append((time.monotonic(), "test did not finish in 100 steps"))


class PageCandidates(Candidates):
    """The same candidates through the candidate's pages (``/take``), as a browser without
    JavaScript: the token form, the start page's button, then per item the page's form, each
    POST answered by a 303 that is followed (GET) with the cookie kept. Each token gets a new
    browser (its own cookie jar) on the shared connection pool.

    A *step* is POST the answer + GET the next page (its redirect), the pages' counterpart of
    the API's GET item + POST answer; a *start* is the token form up to the first item page
    (POST /take, GET the start page, POST start, GET the item page)."""

    @functools.cached_property
    def page_keys(self) -> dict[str, Key]:
        return page_index(self.keys)

    async def _page(
        self, browser: aiohttp.ClientSession, path: str, form: list[tuple[str, str]]
    ) -> tuple[str, Any, str | None, float]:
        """POST ``form`` to ``path`` and follow its 303: (outcome, page, notice, seconds);
        outcome "ok" when a 303 led to a 200 page, else the statuses seen; ``notice`` is the
        ``n`` of the page's address (``saved``, ``late``…)."""
        started = time.monotonic()
        async with browser.post(self.base + path, data=form) as resp:
            body = await resp.read()
            statuses = [r.status for r in resp.history] + [resp.status]
            outcome = "ok" if statuses == [303, 200] else "/".join(map(str, statuses))
            return outcome, document(body), resp.url.query.get("n"), time.monotonic() - started

    async def _one_test(self, token: str, rng: random.Random) -> None:
        async with aiohttp.ClientSession(
            connector=self.http.connector,
            connector_owner=False,
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # unsafe: cookies of 127.0.0.1
            timeout=aiohttp.ClientTimeout(total=30),
        ) as browser:
            # the token form as a browser has it: its CSRF field is bound to a cookie it sets
            async with browser.get(self.base + "/take") as form_page:
                found = re.search(rb'name="csrf" value="([^"]+)"', await form_page.read())
            csrf = found.group(1).decode() if found else ""
            outcome, page, _, took = await self._page(
                browser, "/take", [("token", token), ("csrf", csrf)]
            )
            start = start_form(page) if outcome == "ok" else None
            if start is None:
                self.record.errors.append((time.monotonic(), f"take {outcome}"))
                return
            action, csrf = start
            outcome, page, _, took_start = await self._page(browser, action, [("csrf", csrf)])
            self.record.starts.append((time.monotonic(), took + took_start))
            theta = rng.gauss(0, 1)
            for _ in range(100):
                if time.monotonic() >= self.stop_at:
                    return
                if outcome != "ok":
                    self.record.errors.append((time.monotonic(), f"start {outcome}"))
                    return
                item = item_of(page)
                if item is None:  # the result page
                    self.record.tests += 1
                    return
                answer, known = respond(
                    self.page_keys.get(item.fingerprint),
                    item.type,
                    item.options,
                    item.targets,
                    theta,
                    rng,
                )
                self.record.unknown_items += not known
                if not await self._thinks(rng):
                    return
                outcome, page, notice, took = await self._page(
                    browser, item.action, item.form(answer)
                )
                if outcome != "ok" or notice != "saved":
                    self.record.errors.append((time.monotonic(), f"answer {outcome} n={notice}"))
                    return
                self.record.steps.append((time.monotonic(), took))
                self.record.positions.append((time.monotonic(), int(item.position)))
            self.record.errors.append((time.monotonic(), "test did not finish in 100 steps"))


async def ceiling_users(base: str, n: int, seconds: float, record: Record) -> None:
    """The same closed loop against the ceiling app: GET one row, POST one row."""
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=3)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as http:
        stop_at = time.monotonic() + seconds

        async def user() -> None:
            position = 0
            while time.monotonic() < stop_at:
                position += 1
                try:
                    t0 = time.monotonic()
                    async with http.get(base + "/item") as r1:
                        await r1.json()
                        ok = r1.status == 200
                    async with http.post(
                        base + "/answer", json={"position": position, "answer": "A"}
                    ) as r2:
                        await r2.json()
                        ok = ok and r2.status == 200
                    if not ok:
                        record.errors.append((time.monotonic(), f"{r1.status}/{r2.status}"))
                    else:
                        record.steps.append((time.monotonic(), time.monotonic() - t0))
                except aiohttp.ClientError as exc:
                    record.errors.append((time.monotonic(), repr(exc)))

        await asyncio.gather(*(user() for _ in range(n)))


# ---------------------------------------------------------------------------- phases


async def driver_check(base: str, seconds: float, concurrency: int) -> dict[str, float]:
    async def loop(get: Any) -> int:
        count = 0
        stop_at = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal count
            while time.monotonic() < stop_at:
                await get()
                count += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count

    async with httpx.AsyncClient(
        base_url=base, limits=httpx.Limits(max_connections=concurrency)
    ) as hx:

        async def hx_get() -> None:
            (await hx.get("/hello")).json()

        await loop(hx_get)  # a warm-up pass of the same length
        httpx_rps = await loop(hx_get) / seconds
    tls = ssl.create_default_context()  # plain HTTP; shared so that 50 clients start fast
    clients = [httpx.AsyncClient(base_url=base, verify=tls) for _ in range(concurrency)]
    spare = collections.deque(clients)

    async def hx_own() -> None:  # one client (one connection) per concurrent request
        c = spare.popleft()
        try:
            (await c.get("/hello")).json()
        finally:
            spare.append(c)

    await loop(hx_own)
    httpx_own_rps = await loop(hx_own) / seconds
    await asyncio.gather(*(c.aclose() for c in clients))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as ah:

        async def ah_get() -> None:
            async with ah.get(base + "/hello") as r:
                await r.json()

        await loop(ah_get)
        aiohttp_rps = await loop(ah_get) / seconds
    return {
        "httpx_rps": round(httpx_rps),
        "httpx_client_per_connection_rps": round(httpx_own_rps),
        "aiohttp_rps": round(aiohttp_rps),
        "concurrency": concurrency,
        "seconds": seconds,
    }


async def saturation(
    base: str,
    tokens: collections.deque[str],
    keys: dict[str, Key],
    n: int,
    seconds: float,
    warmup: float,
    proc: Proc,
    driver: type[Candidates] = Candidates,
) -> dict[str, Any]:
    record = Record()
    users = driver(base, tokens, keys, record, think=0.0, seed=n)
    users.add(n)
    try:
        await asyncio.sleep(warmup)
        with CpuMeter(proc) as meter:
            t0 = time.monotonic()
            await asyncio.sleep(seconds)
            t1 = time.monotonic()
    finally:
        await users.close()
    result = record.window(t0, t1)
    positions = [p for t, p in record.positions if t0 <= t < t1]
    result.update(
        n=n,
        seconds=round(t1 - t0, 1),
        tests_finished=record.tests,
        mean_position=round(sum(positions) / len(positions), 1) if positions else None,
        unknown_items=record.unknown_items,
        cpu=meter.per_second(),
        load_average=round(os.getloadavg()[0], 2),  # the shared machine's, over the last minute
    )
    if result["steps"]:
        result["server_cpu_ms_per_step"] = round(1000 * meter.server_seconds() / result["steps"], 2)
    return result


async def ceiling_saturation(
    base: str, n: int, seconds: float, warmup: float, proc: Proc
) -> dict[str, Any]:
    record = Record()
    task = asyncio.create_task(ceiling_users(base, n, warmup + seconds, record))
    await asyncio.sleep(warmup)
    with CpuMeter(proc) as meter:
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        t1 = time.monotonic()
    await task
    result = record.window(t0, t1)
    result.update(n=n, cpu=meter.per_second())
    if result["steps"]:
        result["server_cpu_ms_per_step"] = round(1000 * meter.server_seconds() / result["steps"], 2)
    return result


async def capacity(
    base: str,
    tokens: collections.deque[str],
    keys: dict[str, Key],
    levels: list[int],
    hold: float,
    spawn: float,
    think: float,
    proc: Proc,
) -> dict[str, Any]:
    record = Record()
    users = Candidates(base, tokens, keys, record, think=think, seed=7)
    rows: list[dict[str, Any]] = []
    held = held_loose = 0
    try:
        for level in levels:
            users.add(level - len(users.tasks), spread=spawn)
            with CpuMeter(proc) as meter:
                t0 = time.monotonic()
                await asyncio.sleep(hold)
                t1 = time.monotonic()
            row = record.window(t0 + spawn, t1)
            whole = record.window(t0, t1)
            row.update(
                candidates=level,
                expected_steps_per_s=round(level / (think + 0.0), 1),
                level_p99_ms=whole["p99_ms"],
                errors=whole["errors"],
                error_samples=whole["error_samples"],
                starts=whole["starts"],
                start_p99_ms=whole["start_p99_ms"],
                cpu=meter.per_second(),
                load_average=round(os.getloadavg()[0], 2),
                tokens_left=len(tokens),
            )
            clean = row["errors"] == 0 and row["steps"] > 0
            row["held"] = clean and row["p99_ms"] <= P99_LIMIT_MS
            row["held_at_1s"] = clean and row["p99_ms"] <= LOOSE_P99_MS
            rows.append(row)
            print_capacity_row(row)
            # the largest level below which every level held
            if row["held"] and all(r["held"] for r in rows):
                held = level
            if row["held_at_1s"] and all(r["held_at_1s"] for r in rows):
                held_loose = level
            if not row["held_at_1s"]:
                break
            if len(tokens) < 200:
                print("  (out of tokens: stopping)")
                break
    finally:
        await users.close()
    return {
        "levels": rows,
        "held": held,
        "held_at_1s": held_loose,
        "hold_s": hold,
        "spawn_s": spawn,
        "think_mean_s": think,
        "p99_limit_ms": P99_LIMIT_MS,
        "loose_p99_limit_ms": LOOSE_P99_MS,
    }


async def profile_server(proc: Proc, seconds: float, out: Path) -> dict[str, Any]:
    """py-spy samples of the server for ``seconds``: the share of busy samples per package
    and per function (self time: the frame on top of the stack). Idle threads are left out."""
    pyspy = Path(sys.executable).parent / "py-spy"
    if not pyspy.exists():
        return {"error": "py-spy is not installed (pip install py-spy)"}
    cmd = [
        str(pyspy),
        "record",
        "--pid",
        str(proc.popen.pid),
        "--duration",
        str(int(seconds)),
        "--rate",
        "100",
        "--format",
        "raw",
        "--output",
        str(out),
        "--subprocesses",
    ]
    p = await asyncio.create_subprocess_exec(
        *cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    await p.wait()
    return await asyncio.to_thread(_self_time, out)


IDLE = ("Condition.wait", "_worker (concurrent", "select (selectors", "Event.wait")


def _self_time(raw: Path) -> dict[str, Any]:
    if not raw.exists():
        return {"error": "py-spy wrote nothing (ptrace not permitted?)"}
    packages: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        top = frames[-1]
        if any(mark in top for mark in IDLE):
            continue
        package = _package(top)
        packages[package] += int(count)
        functions[top.split(" (")[0] + f" ({package})"] += int(count)
        for name in {
            f.split(" (")[0] + f" ({_package(f)})"
            for f in frames
            if _package(f).startswith("etest")
        }:
            inclusive[name] += int(count)
    busy = sum(packages.values()) or 1
    return {
        "busy_samples": busy,
        "by_package": [(k, round(v / busy, 3)) for k, v in packages.most_common(15)],
        "by_function": [(k, round(v / busy, 3)) for k, v in functions.most_common(20)],
        # eTest's functions with what they call: the share of busy samples under each
        "etest_inclusive": [(k, round(v / busy, 3)) for k, v in inclusive.most_common(25)],
    }


def _package(frame: str) -> str:
    """The package of a py-spy frame ``function (path:line)``."""
    where = frame.rsplit("(", 1)[-1].rstrip(")")
    path = where.rsplit(":", 1)[0]
    # py-spy names files relative to sys.path ("sqlalchemy/orm/session.py")
    path = path.split("site-packages/")[-1].split("/src/")[-1]
    parts = path.split("/")
    if path.endswith(".html"):  # a compiled Jinja template, named as the loader names it
        return "etest.web templates"
    if path.startswith("/") or not path:
        return path or "(native)"
    if parts[0] == "etest" and len(parts) > 1:
        return "etest." + parts[1].removesuffix(".py")
    if len(parts) == 1:
        return "stdlib " + parts[0].removesuffix(".py")
    return parts[0]


# ---------------------------------------------------------------------------- output


def print_saturation(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(
        f"  {'N':>5} {'steps/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}"
        f" {'cpu: server':>11} {'pg':>5} {'driver':>6} {'machine':>7}"
    )
    for r in rows:
        cpu = r["cpu"]
        print(
            f"  {r['n']:>5} {r['steps_per_s']:>8} {r['p50_ms']:>7} {r['p95_ms']:>7} "
            f"{r['p99_ms']:>7} {r['errors']:>6} {cpu['server']:>11} {cpu['postgres']:>5} "
            f"{cpu.get('driver', ''):>6} {cpu['machine']:>7}"
        )


def print_capacity_row(r: dict[str, Any]) -> None:
    print(
        f"  {r['candidates']:>6} {r['steps_per_s']:>8} {r['p50_ms']:>7} {r['p95_ms']:>7} "
        f"{r['p99_ms']:>7} {r['level_p99_ms']:>9} {r['errors']:>6} {r['starts']:>6} "
        f"{r['start_p99_ms']:>9} {r['cpu']['server']:>6} {r['cpu']['machine']:>7} "
        f"{'yes' if r['held'] else 'NO':>5}",
        flush=True,
    )


# ---------------------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> dict[str, Any]:
    began = time.monotonic()
    result: dict[str, Any] = {
        "command": "python bench/delivery_load.py " + " ".join(sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(),
        },
        "targets": {
            "ceiling_fraction": CEILING_TARGET,
            "capacity_candidates": CAPACITY_TARGET,
            "step_p99_ms": P99_LIMIT_MS,
            "pages_to_api_cpu_per_step": PAGES_CPU_TARGET,
        },
    }
    with (
        tempfile.TemporaryDirectory(prefix="etest-bench-") as tmp_name,
        contextlib.ExitStack() as databases,
    ):
        tmp = Path(tmp_name)
        builds = [
            Build(
                "new",
                "working tree",
                ROOT,
                databases.enter_context(throwaway_database()),
                tmp / "var-new",
            )
        ]
        if args.baseline == "limits-off":
            builds.append(
                Build(
                    "old",
                    "working tree, rate limits off",
                    ROOT,
                    databases.enter_context(throwaway_database()),
                    tmp / "var-old",
                    rate_limits=False,
                )
            )
            result["baseline"] = {"revision": "limits-off", "commit": "working tree", "etest": {}}
        elif args.baseline != "none":
            commit = export(args.baseline, tmp / "baseline")
            builds.append(
                Build(
                    "old",
                    commit,
                    tmp / "baseline",
                    databases.enter_context(throwaway_database()),
                    tmp / "var-old",
                )
            )
            result["baseline"] = {"revision": args.baseline, "commit": commit, "etest": {}}
        for build in builds:
            started = time.monotonic()
            await asyncio.to_thread(build.prepare, args.tokens)
            print(
                f"{build.label}: prepared {len(build.tokens)} tokens and {len(build.keys)} "
                f"item keys in {time.monotonic() - started:.0f} s"
            )
        with psycopg.connect(
            make_url(builds[0].url).set(drivername="postgresql").render_as_string(False)
        ) as conn:
            result["postgres"] = {
                k: conn.execute(f"SHOW {k}").fetchone()[0]  # type: ignore[index]
                for k in ("server_version", "synchronous_commit", "fsync")
            }
        print(f"PostgreSQL {result['postgres']['server_version']}")

        port = free_port()
        with serve(
            "hello", uvicorn_argv("bench.delivery_apps:hello", port), {}, port, "/hello", tmp
        ) as hello:
            check = await driver_check(hello.base, args.check_seconds, 50)
        result["driver_check"] = check
        print(
            f"\ndriver check (hello app, 50 concurrent requests): httpx (one client) "
            f"{check['httpx_rps']} req/s, httpx (a client per connection) "
            f"{check['httpx_client_per_connection_rps']} req/s, aiohttp "
            f"{check['aiohttp_rps']} req/s -> aiohttp drives the runs"
        )

        port = free_port()
        result["ceiling"] = []
        result["etest"] = {}
        with serve(
            "ceiling",
            uvicorn_argv("bench.delivery_apps:ceiling", port, factory=True),
            {"BENCH_DATABASE_URL": builds[0].url},
            port,
            "/item",
            tmp,
        ) as ceil:
            for workers in args.workers:
                runs, ceiling_rows = await run_workers(args, builds, workers, ceil, tmp)
                result["ceiling"] += ceiling_rows
                result["etest"][f"workers_{workers}"] = runs["new"]
                if "old" in runs:
                    result["baseline"]["etest"][f"workers_{workers}"] = runs["old"]
    if "baseline" in result:
        result["comparison"] = comparison(result)
        print_comparison(result)
    result["seconds"] = round(time.monotonic() - began)
    result["machine"]["load_average_at_end"] = os.getloadavg()
    return result


async def run_workers(
    args: argparse.Namespace,
    builds: list[Build],
    workers: int,
    ceil: Proc,
    tmp: Path,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Every phase against every build, each build on its own ``etest serve --workers``;
    the runs per build and the ceiling's rows. The builds take turns, the order swapping from
    one phase (or N) to the next, and the ceiling is measured in each N's turn too, first or
    last, so that noise from the shared machine falls on all of them."""
    runs: dict[str, dict[str, Any]] = {b.name: {} for b in builds}
    turn = 0

    def turns() -> list[Build]:
        nonlocal turn
        turn += 1
        return builds if turn % 2 else builds[::-1]

    with contextlib.ExitStack() as servers:
        procs: dict[str, Proc] = {}
        for b in builds:
            port = free_port()
            procs[b.name] = servers.enter_context(
                serve(
                    f"etest-{b.name}-{workers}",
                    etest_argv(port, workers),
                    b.env(),
                    port,
                    "/ready",
                    tmp,
                    cwd=b.root,
                )
            )

        async def saturate(
            b: Build, n: int, driver: type[Candidates] = Candidates
        ) -> dict[str, Any]:
            proc = procs[b.name]
            row = await saturation(
                proc.base, b.tokens, b.keys, n, args.seconds, args.warmup, proc, driver
            )
            print(
                f"  {b.label}, {'pages' if driver is PageCandidates else 'API'} N={n}: "
                f"{row['steps_per_s']} steps/s, p99 {row['p99_ms']} ms, "
                f"{row['errors']} errors, server CPU {row.get('server_cpu_ms_per_step')} "
                f"ms per step (load average {row['load_average']})",
                flush=True,
            )
            return row

        print(f"\nsaturation, etest serve --workers {workers}")
        ceiling_rows = []
        for n in args.saturation:
            order: list[Build | None] = list(turns())
            measured: dict[str, dict[str, Any]] = {}
            ceiling: dict[str, Any] = {}
            for contestant in [None, *order] if turn % 2 else [*order, None]:
                if contestant is None:
                    ceiling = await ceiling_saturation(
                        ceil.base, n, args.seconds, args.warmup, ceil
                    )
                    ceiling["workers"] = workers
                    print(f"  ceiling N={n}: {ceiling['steps_per_s']} steps/s", flush=True)
                else:
                    measured[contestant.name] = await saturate(contestant, n)
            ceiling_rows.append(ceiling)
            for name, row in measured.items():
                row["fraction_of_ceiling"] = _ratio(row["steps_per_s"], ceiling["steps_per_s"])
                runs[name].setdefault("saturation", []).append(row)
        print_saturation("ceiling (Starlette, 1 read + 1 insert per step)", ceiling_rows)
        for b in builds:
            rows = runs[b.name]["saturation"]
            print_saturation(
                f"{b.label}, etest serve --workers {workers}: full placement tests, no think time",
                rows,
            )
            for r in rows:
                print(
                    f"  N={r['n']}: {r['fraction_of_ceiling']} of the ceiling "
                    f"(target >= {CEILING_TARGET}); server CPU "
                    f"{r.get('server_cpu_ms_per_step')} ms per step; "
                    f"{r['tests_finished']} tests finished, mean position of the steps "
                    f"timed {r['mean_position']}"
                )

        if args.pages:
            print(f"\npages (/take, no JavaScript) against the API, N={args.pages}")
            for b in turns():
                api = next(
                    (r for r in runs[b.name]["saturation"] if r["n"] == args.pages), None
                ) or await saturate(b, args.pages)
                row = await saturate(b, args.pages, PageCandidates)
                row["api"] = {k: api.get(k) for k in COMPARED}
                row["pages_to_api_cpu_per_step"] = _ratio(
                    row.get("server_cpu_ms_per_step"), api.get("server_cpu_ms_per_step")
                )
                runs[b.name]["pages"] = row
            for b in builds:
                row = runs[b.name]["pages"]
                print_saturation(f"{b.label}: the same candidates through /take", [row])
                print(
                    f"  server CPU per step: pages {row.get('server_cpu_ms_per_step')} ms, API "
                    f"{row['api']['server_cpu_ms_per_step']} ms: pages/API "
                    f"{row['pages_to_api_cpu_per_step']} (target <= {PAGES_CPU_TARGET}); "
                    f"{row['tests_finished']} tests finished, {row['unknown_items']} items "
                    "not recognised"
                )

        if args.profile and workers == args.workers[0]:
            new = builds[0]
            drivers = [("profile_n50", "API", Candidates)]
            if args.pages:
                drivers.append(("profile_pages_n50", "pages", PageCandidates))
            for name, what, driver in drivers:
                record = Record()
                users = driver(procs["new"].base, new.tokens, new.keys, record, 0.0, 99)
                users.add(50)
                try:
                    await asyncio.sleep(args.warmup)
                    prof = await profile_server(procs["new"], 15, args.profile_raw)
                finally:
                    await users.close()
                runs["new"][name] = prof
                print(
                    f"\nserver profile, {new.label}, {what}, N=50 (py-spy, share of busy "
                    "samples, self time):"
                )
                for label, share in prof.get("by_package", []):
                    print(f"  {share:6.1%}  {label}")
                for label, share in prof.get("by_function", [])[:12]:
                    print(f"  {share:6.1%}  {label}")
                print("  eTest's functions with what they call (inclusive):")
                for label, share in prof.get("etest_inclusive", [])[:15]:
                    print(f"  {share:6.1%}  {label}")

        if not args.no_capacity:
            for rnd in range(1, args.capacity_rounds + 1):
                for b in turns():
                    print(
                        f"\ncapacity, {b.label}, etest serve --workers {workers}, round {rnd}: "
                        f"think time exp(mean {args.think:g} s), levels held {args.hold:g} s, "
                        f"p99 over the last {args.hold - args.spawn:g} s"
                    )
                    print(
                        f"  {'cands':>6} {'steps/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
                        f"{'p99 ms':>7} {'level p99':>9} {'errors':>6} {'starts':>6} "
                        f"{'start p99':>9} {'cpu':>6} {'machine':>7} {'held':>5}"
                    )
                    cap = await capacity(
                        procs[b.name].base,
                        b.tokens,
                        b.keys,
                        args.levels,
                        args.hold,
                        args.spawn,
                        args.think,
                        procs[b.name],
                    )
                    runs[b.name].setdefault("capacity_rounds", []).append(cap)
                    print(
                        f"  largest level held with step p99 <= {P99_LIMIT_MS:.0f} ms: "
                        f"{cap['held']} candidates (target >= {CAPACITY_TARGET}); "
                        f"with p99 <= {LOOSE_P99_MS:.0f} ms: {cap['held_at_1s']}"
                    )
            for b in builds:
                # a level lost to a spike of the others' load is not the server's: the best
                # round stands (the rounds take the builds in turn: old, new, new, old)
                runs[b.name]["capacity"] = max(
                    runs[b.name]["capacity_rounds"], key=lambda c: (c["held"], c["held_at_1s"])
                )
    return runs, ceiling_rows


#: The figures of a saturation row set side by side (old / new) and kept for the API row
#: next to the pages row.
COMPARED = ("steps_per_s", "p50_ms", "p99_ms", "errors", "server_cpu_ms_per_step")


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def comparison(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Old and new side by side, per worker count: new/old is the ratio."""
    rows: list[dict[str, Any]] = []
    for workers, new in result["etest"].items():
        old = result["baseline"]["etest"][workers]

        def add(what: str, o: Any, n: Any, workers: str = workers) -> None:
            rows.append(
                {"workers": workers, "what": what, "old": o, "new": n, "new_over_old": _ratio(n, o)}
            )

        for o, n in zip(old.get("saturation", []), new.get("saturation", []), strict=True):
            add(f"API N={n['n']}: steps/s", o["steps_per_s"], n["steps_per_s"])
            add(
                f"API N={n['n']}: of the ceiling",
                o["fraction_of_ceiling"],
                n["fraction_of_ceiling"],
            )
            add(f"API N={n['n']}: p99 ms", o["p99_ms"], n["p99_ms"])
            add(
                f"API N={n['n']}: server CPU ms per step",
                o.get("server_cpu_ms_per_step"),
                n.get("server_cpu_ms_per_step"),
            )
        if "pages" in old and "pages" in new:
            o, n = old["pages"], new["pages"]
            add(f"pages N={n['n']}: steps/s", o["steps_per_s"], n["steps_per_s"])
            add(f"pages N={n['n']}: p99 ms", o["p99_ms"], n["p99_ms"])
            add(
                f"pages N={n['n']}: server CPU ms per step",
                o.get("server_cpu_ms_per_step"),
                n.get("server_cpu_ms_per_step"),
            )
            add(
                f"pages N={n['n']}: CPU per step, pages/API",
                o["pages_to_api_cpu_per_step"],
                n["pages_to_api_cpu_per_step"],
            )
        if "capacity" in old and "capacity" in new:
            add("capacity: held at p99 <= 100 ms", old["capacity"]["held"], new["capacity"]["held"])
            add(
                "capacity: held at p99 <= 1 s",
                old["capacity"]["held_at_1s"],
                new["capacity"]["held_at_1s"],
            )
    return rows


def print_comparison(result: dict[str, Any]) -> None:
    base = result["baseline"]
    print(f"\nold = {base['revision']} ({base['commit']}), new = the working tree, same run")
    print(f"  {'workers':<10} {'':<42} {'old':>9} {'new':>9} {'new/old':>8}")
    for r in result["comparison"]:
        print(
            f"  {r['workers']:<10} {r['what']:<42} {r['old']!s:>9} {r['new']!s:>9} "
            f"{r['new_over_old']!s:>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--saturation", type=lambda s: [int(x) for x in s.split(",")], default=[50, 200]
    )
    parser.add_argument(
        "--levels",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[200, 400, 600, 800, 1000, 1200, 1400, 1600],
    )
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1])
    parser.add_argument("--seconds", type=float, default=30.0, help="saturation window")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--hold", type=float, default=20.0, help="seconds per capacity level")
    parser.add_argument(
        "--spawn",
        type=float,
        default=5.0,
        help="newcomers of a level arrive over this many seconds",
    )
    parser.add_argument("--think", type=float, default=5.0, help="mean think time (s)")
    parser.add_argument("--check-seconds", type=float, default=4.0)
    parser.add_argument("--tokens", type=int, default=12000, help="per build")
    parser.add_argument("--no-capacity", action="store_true")
    parser.add_argument(
        "--capacity-rounds",
        type=int,
        default=2,
        help="capacity ramps per build, the builds in turn; the best round is reported",
    )
    parser.add_argument(
        "--baseline",
        default=BASELINE,
        help=f"git revision run as 'old' beside the working tree (default {BASELINE}; "
        "'none': the working tree only; 'limits-off': the working tree with its rate limits "
        "off as 'old', against the same tree with them on)",
    )
    parser.add_argument(
        "--pages",
        type=int,
        default=None,
        help="N of the /take pages phase (default: the first saturation N; 0: none)",
    )
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--profile-raw",
        type=Path,
        default=Path(tempfile.gettempdir()) / "etest-delivery-profile.txt",
        help="py-spy's raw samples",
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run; writes no JSON")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if args.quick:
        args.saturation, args.levels, args.seconds, args.warmup = [20], [50, 100], 5.0, 2.0
        args.hold, args.spawn, args.check_seconds, args.tokens = 8.0, 2.0, 1.0, 600
        args.capacity_rounds = 1
    if args.pages is None:
        args.pages = args.saturation[0]
    result = asyncio.run(run(args))
    print(f"\nwhole run {result['seconds']} s")
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
