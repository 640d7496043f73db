"""Where a candidate step's time goes: SQL statements and wall time per request of the candidate
API, in process (no HTTP, no concurrency), on a throwaway PostgreSQL database (or SQLite).

Runs ``--tests`` placement tests of the demo bank's ``pt_neo_plus`` (simulated candidates as in
bench/delivery_load.py) through the ASGI app and counts, per route: requests, statements per
request (SELECT / INSERT / UPDATE / other), mean wall and CPU ms per request; and the CPU ms
per call of the attempt service's functions (sequential requests, so a function's CPU is the
process's CPU between its start and its return). ``--cprofile`` adds cProfile's view.

``--pages`` also takes the same number of tests through the candidate's pages (``/take``: form
posts and 303 redirects, as a browser without JavaScript; bench/delivery_pages.py reads them),
and prints the server's CPU per step for both: an ASGI wrapper adds up the process CPU while
the app handles each request (requests are sequential, so that is the server's share; the
client's parsing is outside it). A page step is ``POST /take/{id}/answer`` + the ``GET`` of the
next item's page; an API step ``GET …/item`` + ``POST …/responses`` (issue 12: pages/API <= 1.5).

Run:  .venv/bin/python bench/delivery_queries.py [--sqlite] [--tests 20] [--cprofile] [--pages]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import io
import pstats
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from delivery_load import PEPPER, answer_for, prepare, respond, throwaway_database
from delivery_pages import document, item_of, page_index, start_form

ROUTE = re.compile(r"/api/v1/attempts(/[^/]+)?(/item|/responses|/finish)?$")


#: The delivery's functions timed, by module: the hot path, the transaction, and the rest.
SERVICE = {
    "delivery": ("hot_serve", "hot_answer", "serve_in", "answer_in"),
    "pinned": ("seen_before", "load_version"),
    "service": ("positions", "expire_if_due", "finish", "start"),
}


def _time_service() -> dict[str, list[float]]:
    """Wrap the attempt package's functions to add up their CPU time per call (each in the
    module whose callers look it up there)."""
    import functools
    import importlib

    spent: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])

    def wrap(module: Any, name: str) -> None:
        fn = getattr(module, name)

        @functools.wraps(fn)
        async def timed(*a: Any, **kw: Any) -> Any:
            started = time.process_time()
            try:
                return await fn(*a, **kw)
            finally:
                spent[name][0] += 1
                spent[name][1] += time.process_time() - started

        setattr(module, name, timed)

    for module_name, names in SERVICE.items():
        module = importlib.import_module(f"etest.attempt.{module_name}")
        for name in names:
            wrap(module, name)
    return spent


async def main(args: argparse.Namespace) -> None:
    from etest.app import create_app
    from etest.config import Settings

    spent = _time_service()

    with (
        tempfile.TemporaryDirectory() as tmp,
        _sqlite(Path(tmp)) if args.sqlite else throwaway_database() as url,
    ):
        codes, keys = await prepare(url, Path(tmp) / "var", args.tests * (2 if args.pages else 1))
        codes, page_codes = codes[: args.tests], codes[args.tests :]
        settings = Settings(
            database_url=url,
            var_dir=Path(tmp) / "var",
            secret_key=PEPPER,
            log_level="WARNING",
            sweep_interval=0,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            statements: list[str] = []

            def count(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
                statements.append(sql.lstrip().split(None, 1)[0].upper())

            event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
            _count_live(statements)
            per_route: dict[str, dict[str, Any]] = collections.defaultdict(
                lambda: {"requests": 0, "seconds": 0.0, "cpu": 0.0, "kinds": collections.Counter()}
            )
            server_cpu = [0.0]

            async def measured(scope: Any, receive: Any, send: Any) -> None:
                started = time.process_time()
                try:
                    await app(scope, receive, send)
                finally:
                    server_cpu[0] += time.process_time() - started

            transport = httpx.ASGITransport(app=measured)
            profiler = cProfile.Profile(time.process_time) if args.cprofile else None
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

                async def call(method: str, path: str, **kw: Any) -> httpx.Response:
                    statements.clear()
                    server_cpu[0] = 0.0
                    started, cpu = time.perf_counter(), time.process_time()
                    resp = await client.request(method, path, **kw)
                    took = time.perf_counter() - started
                    name = _route(method, path)
                    row = per_route[name]
                    row["requests"] += 1
                    row["seconds"] += took
                    row["cpu"] += time.process_time() - cpu
                    row["server"] = row.get("server", 0.0) + server_cpu[0]
                    row["kinds"].update(statements)
                    assert resp.status_code < 400, resp.text
                    return resp

                rng = random.Random(1)
                if profiler:
                    profiler.enable()
                for code in codes:
                    body = (await call("POST", "/api/v1/attempts", json={"token": code})).json()
                    headers = {"Authorization": f"Bearer {body['secret']}"}
                    attempt, theta = body["attempt_id"], rng.gauss(0, 1)
                    for _ in range(100):
                        current = (
                            await call("GET", f"/api/v1/attempts/{attempt}/item", headers=headers)
                        ).json()
                        if current["finished"]:
                            break
                        item = current["item"]
                        answer, _ = answer_for(item, keys, theta, rng)
                        await call(
                            "POST",
                            f"/api/v1/attempts/{attempt}/responses",
                            headers=headers,
                            json={"position": item["position"], "answer": answer},
                        )
                if args.pages:
                    await _pages(call, page_codes, keys)
                if profiler:
                    profiler.disable()
        print(
            f"{'route':<36} {'requests':>8} {'ms/req':>7} {'cpu ms':>7} {'server':>7}"
            f" {'stmts/req':>9}  kinds per request"
        )
        for name, row in per_route.items():
            n = row["requests"]
            kinds = ", ".join(f"{k} {v / n:.1f}" for k, v in row["kinds"].most_common())
            print(
                f"{name:<36} {n:>8} {1000 * row['seconds'] / n:>7.2f} "
                f"{1000 * row['cpu'] / n:>7.2f} {1000 * row['server'] / n:>7.2f} "
                f"{sum(row['kinds'].values()) / n:>9.1f}  {kinds}"
            )
        if args.pages:
            print_step_ratio(per_route)
        print(f"\n{'attempt service function':<24} {'calls':>6} {'cpu ms/call':>11}")
        for name, (calls, cpu) in sorted(spent.items(), key=lambda kv: -kv[1][1]):
            print(f"{name:<24} {int(calls):>6} {1000 * cpu / calls:>11.2f}")
        if profiler:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
            stats.print_stats(r"etest/", 40)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(
                r"(_match|serialize_response|solve_dependencies|access_log|CorrelationId|"
                r"Session.execute|Session.get|Session.scalars?|commit|fetchall|loads|"
                r"_run_endpoint|greenlet_spawn|item_view|state_of|dispatch|call_next|"
                r"execute|jsonable|render|dump_json|_session|transaction|check_secret)",
                50,
            )
            print(out.getvalue())


def _route(method: str, path: str) -> str:
    """A request's route, ids left out."""
    m = ROUTE.search(path)
    if m:
        return f"{method} /attempts{'/{id}' if m.group(1) else ''}{m.group(2) or ''}"
    path = path.split("?", 1)[0]
    return f"{method} " + re.sub(r"/take/[0-9a-f-]{36}", "/take/{id}", path)


async def _pages(call: Any, codes: list[str], keys: dict[str, Any]) -> None:
    """Take the tests of ``codes`` through the pages: the token form, the start page, and per
    item the answer's POST and the redirect's GET of the next page."""
    by_page = page_index(keys)
    rng = random.Random(2)
    for code in codes:
        sent = await call("GET", "/take", params={"token": code})  # the invitation link
        path = sent.headers["location"]
        start = start_form(document((await call("GET", path)).content))
        assert start is not None
        action, csrf = start
        await call("POST", action, data={"csrf": csrf})
        page = document((await call("GET", path)).content)
        theta = rng.gauss(0, 1)
        for _ in range(100):
            item = item_of(page)
            if item is None:  # the result page
                break
            answer, _ = respond(
                by_page.get(item.fingerprint), item.type, item.options, item.targets, theta, rng
            )
            saved = await call("POST", item.action, data=item.form(answer))
            assert saved.status_code == 303, saved.text
            page = document((await call("GET", saved.headers["location"])).content)


def print_step_ratio(per_route: dict[str, dict[str, Any]]) -> None:
    """Server CPU per step on the API and on the pages, and their ratio."""

    def per_request(name: str) -> float:
        row = per_route[name]
        return float(row["server"] / row["requests"])

    api = per_request("GET /attempts/{id}/item") + per_request("POST /attempts/{id}/responses")
    pages = per_request("POST /take/{id}/answer") + per_request("GET /take/{id}")
    print(
        f"\nserver CPU per step: API {1000 * api:.2f} ms, pages {1000 * pages:.2f} ms, "
        f"pages/API {pages / api:.2f} (target <= 1.5; GET /take/{{id}} includes the start "
        "and result pages)"
    )


def _count_live(statements: list[str]) -> None:
    """Count the hot path's statements on PostgreSQL too: they run on psycopg directly, not
    through the engine's events."""
    from etest.attempt.live import _PsycopgLive

    rows, insert_new = _PsycopgLive.rows, _PsycopgLive.insert_new

    async def counted_rows(self: Any, *a: Any) -> Any:
        statements.append("SELECT")
        return await rows(self, *a)

    async def counted_insert(self: Any, *a: Any) -> Any:
        statements.append("INSERT")
        return await insert_new(self, *a)

    _PsycopgLive.rows = counted_rows  # type: ignore[method-assign]
    _PsycopgLive.insert_new = counted_insert  # type: ignore[method-assign]


def _sqlite(tmp: Path) -> Any:
    import contextlib

    @contextlib.contextmanager
    def url() -> Any:
        yield f"sqlite+aiosqlite:///{tmp / 'q.db'}"

    return url()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--pages", action="store_true", help="also the /take pages")
    asyncio.run(main(parser.parse_args()))
