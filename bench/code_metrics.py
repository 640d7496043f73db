"""Code shape, before and after: the figures of a renovation's closing note, each printed by a
command rather than counted by hand.

For each revision (``--rev``, repeatable; default ``0cdec59`` and ``WORKTREE``, the working
tree as it is on disk, uncommitted edits included):

- Static, with ``ast``, over ``src/etest`` after ``ruff format`` (a git revision is exported
  with ``git archive`` and the working tree copied, then both formatted with this checkout's
  ruff configuration, so that formatting differences do not count): the five largest modules
  (lines), the functions (sync and async, methods and nested ones included) longer than 50
  lines (``end_lineno - lineno + 1``, the ``def`` line to the last line of the body), and the
  packages in import cycles, found by the graph and cycle finder of
  ``tests/test_architecture.py`` (imports inside functions count; ``TYPE_CHECKING`` ones do
  not) applied to the export.
- Statements per candidate step, counted in process by a SQLAlchemy ``before_cursor_execute``
  listener on the app's engine (as tests/attempt/test_live.py does): a CT of the course that
  tests/attempt/conftest.py builds, taken to position 2, then one step
  (``POST …/responses`` for position 2 + ``GET …/item``, which serves position 3) through the
  API, and the same through the ``/take`` pages (``POST /take/{id}/answer`` + ``GET`` of the
  redirect) with httpx's ASGI transport and a cookie jar. That part runs in a child process
  whose ``PYTHONPATH`` is the revision's ``src`` and its root (for the revision's own test
  helpers), so old code is measured with its own helpers; what it cannot measure is reported,
  not raised. SQLite (a temporary file) always; PostgreSQL with ``--postgres`` (a throwaway
  database on 127.0.0.1:5432, dropped at the end), where the hot path's statements run on a
  psycopg pool outside the engine and are counted by wrapping its methods in the child.

Run:  .venv/bin/python bench/code_metrics.py [--postgres] [--rev 0cdec59 --rev WORKTREE]
Writes bench/results/code_metrics.json (with the full list of long functions per revision).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "code_metrics.json"
WORKTREE = "WORKTREE"
BASELINE = "0cdec59"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LONG = 50  # a function longer than this many lines is listed
TOP = 5

# ---------------------------------------------------------------------------- revisions


@contextmanager
def exported(rev: str) -> Iterator[Path]:
    """A formatted copy of ``rev`` (its whole tree; for WORKTREE, its src/etest only)."""
    with tempfile.TemporaryDirectory(prefix="code-metrics-") as tmp:
        root = Path(tmp)
        if rev == WORKTREE:
            shutil.copytree(
                ROOT / "src" / "etest",
                root / "src" / "etest",
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            tar = root / "export.tar"
            subprocess.run(
                ["git", "-C", str(ROOT), "archive", "--format=tar", f"--output={tar}", rev],
                check=True,
            )
            with tarfile.open(tar) as members:
                members.extractall(root, filter="data")
            tar.unlink()
        subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "ruff"),
                "format",
                "--quiet",
                "--config",
                str(ROOT / "pyproject.toml"),
                str(root / "src" / "etest"),
            ],
            check=True,
        )
        yield root


def describe_rev(rev: str) -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    if rev == WORKTREE:
        dirty = git("status", "--porcelain", "--", "src", "tests")
        return {"commit": git("rev-parse", "HEAD"), "uncommitted_files": len(dirty.splitlines())}
    return {
        "commit": git("rev-parse", f"{rev}^{{commit}}"),
        "subject": git("log", "-1", "--format=%s", rev),
    }


# ---------------------------------------------------------------------------- static metrics


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function with its qualified name (``Class.method``, ``outer.<locals>.inner``)."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, Any]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                yield name, child
                yield from walk(child, f"{name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def static_metrics(src: Path) -> dict[str, Any]:
    modules: list[tuple[str, int]] = []
    long: list[dict[str, Any]] = []
    functions = 0
    for path in sorted(src.rglob("*.py")):
        text = path.read_text()
        rel = path.relative_to(src).as_posix()
        modules.append((rel, len(text.splitlines())))
        for name, fn in _functions(ast.parse(text, filename=rel)):
            functions += 1
            assert fn.end_lineno is not None
            lines = fn.end_lineno - fn.lineno + 1
            if lines > LONG:
                long.append(
                    {
                        "function": f"{rel}:{fn.lineno} {name}",
                        "name": f"{rel} {name}",
                        "lines": lines,
                    }
                )
    modules.sort(key=lambda m: (-m[1], m[0]))
    long.sort(key=lambda f: (-f["lines"], f["function"]))
    return {
        "modules": len(modules),
        "lines": sum(n for _, n in modules),
        "largest_modules": [{"module": m, "lines": n} for m, n in modules[:TOP]],
        "functions": functions,
        f"functions_over_{LONG}_lines": len(long),
        "long_functions": long,
        **import_cycles(src),
    }


def import_cycles(src: Path) -> dict[str, Any]:
    """The package graph and cycle finder of tests/test_architecture.py, on ``src``."""
    sys.path.insert(0, str(ROOT))
    try:
        from tests.test_architecture import _cycle_through, _strongly_connected, package_graph
    finally:
        sys.path.remove(str(ROOT))
    edges = package_graph(src)
    components = _strongly_connected(edges)
    return {
        "packages_in_cycles": sum(len(c) for c in components),
        "cycles": [
            {
                "packages": component,
                "example": " → ".join(_cycle_through(edges, component)),
                "imports": {
                    f"{here} → {there}": edges[here][there]
                    for here in component
                    for there in sorted(set(edges[here]) & set(component))
                },
            }
            for component in components
        ],
    }


# ---------------------------------------------------------------------------- statements per step


class Unmeasured(Exception):
    """A request of the scenario did not answer as expected: its status and page title."""

    def __init__(self, request: str, resp: Any) -> None:
        found = re.search(r"<h1[^>]*>(.*?)</h1>", resp.text, re.S)
        said = found.group(1).strip() if found else resp.text[:160]
        super().__init__(f"{request} answered {resp.status_code}: {said}")


def statements(rev: str, root: Path, database: str) -> dict[str, Any]:
    """The child's measurement of ``rev`` (its code and test helpers first on the path)."""
    base = ROOT if rev == WORKTREE else root
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(base / "src"), str(base)]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("ETEST_TEST_DATABASE_URL", None)
    if database == "postgresql":
        env["ETEST_TEST_DATABASE_URL"] = PG_URL
    try:
        child = subprocess.run(
            [sys.executable, __file__, "--child"],
            env=env,
            cwd=base,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        return {"error": "the measurement took more than 300 s and was stopped"}
    lines = child.stdout.strip().splitlines()
    if child.returncode != 0 or not lines:
        tail = (child.stderr or child.stdout).strip().splitlines()[-3:]
        return {
            "error": f"the measurement did not run (exit {child.returncode}): {' | '.join(tail)}"
        }
    found: dict[str, Any] = json.loads(lines[-1])
    return found


async def child() -> dict[str, Any]:
    """Runs with the measured revision's ``etest`` and ``tests`` on the path."""
    out: dict[str, Any] = {}
    try:
        import httpx
        from sqlalchemy import event
        from tests.attempt.conftest import Taker, key_of, make_course, right
        from tests.conftest import create_candidate, create_key
        from tests.support.databases import throwaway_database

        from etest import migrate
        from etest.app import create_app
        from etest.config import Settings
        from etest.db import transaction
        from etest.plan.service import load_reference
    except ImportError as exc:
        return {"error": f"this revision lacks what the measurement needs: {exc}"}

    with tempfile.TemporaryDirectory() as tmp, throwaway_database(Path(tmp)) as url:
        migrate.upgrade(url)
        wanted: dict[str, Any] = {
            "env": "test",
            "database_url": url,
            "var_dir": Path(tmp) / "var",
            "secret_key": "bench-pepper-not-secret",
            "base_url": "http://testserver",
            "log_level": "WARNING",
            "sweep_interval": 0,
            "worker_mode": "external",
            # the test course's tiny placement test is published as the suite publishes it
            # (tests/conftest.py): its evidence simulated small and held to no accuracy bar
            "evidence_per_level": 10,
            "evidence_within_one_level": 0,
        }
        settings = Settings(**{k: v for k, v in wanted.items() if k in Settings.model_fields})
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            async with transaction(app.state.sessionmaker) as session:
                await load_reference(session)
            out["database"] = app.state.engine.dialect.name
            engine: list[str] = []
            hot: list[str] = []

            def count(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
                # the verb and the first table it names: "SELECT attempts", "INSERT responses"
                verb = sql.lstrip().split(None, 1)[0].upper()
                table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", sql, re.I)
                engine.append(f"{verb} {table.group(1)}" if table else verb)

            event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
            if out["database"] == "postgresql":
                # Measurement instrumentation, in this child process only: the hot path runs
                # its statements on a psycopg pool that the engine's events never see, so its
                # Live methods are wrapped to count them (bench/delivery_queries.py's wrapper;
                # this script's folder is first on the path).
                try:
                    from delivery_queries import _count_live

                    _count_live(hot)
                except (ImportError, AttributeError) as exc:
                    out["hot_path_note"] = f"hot-path statements not counted: {exc}"

            def taken() -> dict[str, Any]:
                step: dict[str, Any] = {"engine": list(engine), "hot_path": list(hot)}
                step["statements"] = len(engine) + len(hot)
                engine.clear()
                hot.clear()
                return step

            def expect(resp: httpx.Response, *status: int) -> httpx.Response:
                if resp.status_code not in status:
                    raise Unmeasured(f"{resp.request.method} {resp.request.url.path}", resp)
                return resp

            async def api_step(api: httpx.AsyncClient, course: Any) -> dict[str, Any]:
                """Start, serve 1, answer 1, serve 2; then the step: answer 2, serve 3."""
                taker = Taker(app, api, await course.token(api, "CT", "A1"))
                expect(await taker.start(), 200, 201)
                for position in (1, 2):
                    current = await taker.item()
                    assert current["item"]["position"] == position, current
                    item_type, key = await key_of(app, taker.attempt_id, position)
                    taken()
                    expect(await taker.answer(position, right(item_type, key)), 200)
                post = taken()
                served = await taker.item()
                assert served["item"]["position"] == 3, served
                return {"POST responses": post, "GET item": taken()}

            async def page_step(browser: httpx.AsyncClient, token: str) -> dict[str, Any]:
                """Token, start page, start, item 1, answer 1, item 2; then the step: answer 2
                and the page of item 3 the answer redirects to."""
                from tests.web.test_pages import csrf_of, position_of  # /take's own test helpers

                path = expect(await browser.get("/take", params={"token": token}), 303).headers[
                    "location"
                ]
                start = expect(await browser.get(path), 200)
                expect(await browser.post(f"{path}/start", data={"csrf": csrf_of(start.text)}), 303)
                page = expect(await browser.get(path), 200)
                for position in (1, 2):
                    assert position_of(page.text) == position
                    item_type, key = await key_of(app, path.rsplit("/", 1)[1], position)
                    form = {"position": str(position), "csrf": csrf_of(page.text)}
                    form["answer"] = right(item_type, key)  # the form field holds the API's value
                    taken()
                    saved = expect(await browser.post(f"{path}/answer", data=form), 303)
                    post = taken()
                    page = expect(await browser.get(saved.headers["location"]), 200)
                assert position_of(page.text) == 3
                return {"POST answer": post, "GET next page": taken()}

            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with (
                httpx.AsyncClient(transport=transport, base_url="http://testserver") as api,
                httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser,
            ):
                course = await make_course(app, api, await create_key(app, "superadmin", None))
                # a second candidate for the pages: one live CT token per candidate and level
                other = await create_candidate(api, course.admin, uic=course.uic)
                for part, step in (
                    ("api", api_step(api, course)),
                    ("pages", page_step(browser, await course.token(api, "CT", "A1", other))),
                ):
                    try:
                        out[part] = await step
                    except Exception as exc:  # reported in the table, not raised
                        out[part] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            event.remove(app.state.engine.sync_engine, "before_cursor_execute", count)
    return out


# ---------------------------------------------------------------------------- report


def _step(found: dict[str, Any], part: str) -> str:
    requests = found.get(part, {})
    if "error" in found or "error" in requests or not requests:
        return "not measured (see below)"
    total = sum(r["statements"] for r in requests.values())
    each = " + ".join(str(r["statements"]) for r in requests.values())
    hot = sum(len(r["hot_path"]) for r in requests.values())
    return f"{total} ({each}{f'; {hot} hot path' if hot else ''})"


def table(revs: list[str], results: dict[str, Any]) -> str:
    rows: list[tuple[str, list[str]]] = []
    static = [results[r]["static"] for r in revs]
    rows.append(
        ("modules / lines in src/etest", [f"{s['modules']} / {s['lines']:,}" for s in static])
    )
    for n in range(TOP):
        rows.append(
            (
                f"largest module #{n + 1} (lines)",
                [
                    f"{s['largest_modules'][n]['module']} {s['largest_modules'][n]['lines']:,}"
                    for s in static
                ],
            )
        )
    rows.append(
        (f"functions over {LONG} lines", [str(s[f"functions_over_{LONG}_lines"]) for s in static])
    )
    rows.append(
        (
            "packages in import cycles",
            [f"{s['packages_in_cycles']} in {len(s['cycles'])} cycle(s)" for s in static],
        )
    )
    for database in ("sqlite", "postgresql"):
        if all(database in results[r]["statements"] for r in revs):
            label = "SQLite" if database == "sqlite" else "PostgreSQL, engine + hot path"
            for part, name in (("api", "API step"), ("pages", "/take page step")):
                rows.append(
                    (
                        f"statements per {name} ({label})",
                        [_step(results[r]["statements"][database], part) for r in revs],
                    )
                )
    header = ["metric", *revs]
    widths = [max(len(header[0]), *(len(r[0]) for r in rows))] + [
        max(len(header[i + 1]), *(len(r[1][i]) for r in rows)) for i in range(len(revs))
    ]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for name, cells in rows:
        lines.append(
            "| "
            + " | ".join(c.ljust(w) for c, w in zip([name, *cells], widths, strict=True))
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rev", action="append", help=f"git revision or {WORKTREE} (repeatable)")
    parser.add_argument("--postgres", action="store_true", help=f"also count on {PG_URL}")
    parser.add_argument("--no-json", action="store_true", help="print only")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child())))
        return
    revs: list[str] = args.rev or [BASELINE, WORKTREE]
    for rev in revs:
        known = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
            capture_output=True,
        )
        if rev != WORKTREE and known.returncode != 0:
            parser.error(f"--rev {rev}: not a commit of this repository (or use {WORKTREE})")
    databases = ["sqlite", "postgresql"] if args.postgres else ["sqlite"]
    results: dict[str, Any] = {}
    for rev in revs:
        with exported(rev) as root:
            results[rev] = {
                **describe_rev(rev),
                "static": static_metrics(root / "src" / "etest"),
                "statements": {db: statements(rev, root, db) for db in databases},
            }
    print(table(revs, results))
    for rev in revs:
        for db, found in results[rev]["statements"].items():
            notes = [found.get("error"), found.get("hot_path_note")]
            notes += [
                f"{part}: {found[part].get('error')}" for part in ("api", "pages") if part in found
            ]
            for note in notes:
                if note and not note.endswith(": None"):
                    print(f"\n{rev} ({db}) not measured: {note}")
    worktree = results.get(WORKTREE)
    for rev in revs:
        static = results[rev]["static"]
        for cycle in static["cycles"]:
            print(f"\n{rev}: cycle of {len(cycle['packages'])}: {', '.join(cycle['packages'])}")
            print(f"  e.g. {cycle['example']}")
    if worktree:
        print(f"\n{WORKTREE}: functions over {LONG} lines")
        for fn in worktree["static"]["long_functions"]:
            print(f"  {fn['lines']:>4}  {fn['function']}")
    if len(revs) > 1:
        first, last = (results[r]["static"]["long_functions"] for r in (revs[0], revs[-1]))
        before, after = ({f["name"] for f in fs} for fs in (first, last))
        for label, names in (
            (f"no longer over {LONG} lines (or gone)", before - after),
            (f"newly over {LONG} lines", after - before),
        ):
            print(f"\n{revs[-1]} against {revs[0]}, {label}: {', '.join(sorted(names)) or 'none'}")
    if not args.no_json:
        RESULT.write_text(
            json.dumps(
                {
                    "generated": datetime.now(UTC).isoformat(timespec="seconds"),
                    "command": " ".join(["bench/code_metrics.py", *sys.argv[1:]]),
                    "python": platform.python_version(),
                    "revisions": results,
                },
                indent=1,
                ensure_ascii=False,
            )
            + "\n"
        )
        print(f"\nwrote {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
