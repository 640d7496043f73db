"""Every query of a domain package lives in its ``repository.py``.

The test walks ``src/etest`` with ``ast`` and finds every call that builds a SQLAlchemy
statement: ``select``, ``insert``, ``update`` or ``delete`` imported from ``sqlalchemy`` (or one
of its dialects, under any alias, such as ``pg_insert``), or called on the ``sqlalchemy``
module (``sa.select(...)``). ``session.delete(obj)`` is not a statement and is not counted.
Such a call is allowed only in a module named ``repository.py`` (or inside a package's
``repository/``), in the modules of ``ALLOWED`` (each with its reason) and, for now, in the
modules of ``PENDING``: those not yet moved. PENDING can only shrink: a module listed there that
no longer builds a statement fails the test until it is taken off the list.

Nor does an endpoint (a module named ``endpoints.py``) or a page (``web/``) narrow a statement a
repository built: a list's filters are a repository function taking the typed filter values
(``token.repository.filtered(actor, status=..., within=...)``); the endpoint parses and
validates the query parameters and pages what it gets back. Any method call named ``where``,
``filter``, ``filter_by`` or ``having`` there fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "etest"

STATEMENTS = frozenset({"select", "insert", "update", "delete"})
#: The methods that narrow a statement (SQLAlchemy 2 ``where``; the legacy ``filter`` spellings).
FILTERS = frozenset({"where", "filter", "filter_by", "having"})

# Not listed because not walked or already a repository: the Alembic migrations
# (src/etest/migrations/, the schema's history, skipped below); the reports' read models are
# report/repository.py (queries shaped for one workbook or JSON report each, scoped like every
# other repository).
ALLOWED: dict[str, str] = {
    "migrate.py": "runs Alembic: the schema's own tool, not a domain query",
    "db.py": "engines and sessions: the frame every repository runs on",
    "kit/pagination.py": "only counts and pages a statement a repository built (the count "
    "wraps it as a subquery): no table of its own",
    "attempt/live.py": "the delivery hot path: Core statements built once per dialect and "
    "table, then reused on a raw connection by design (statement counts "
    "asserted in tests/attempt/test_live.py)",
}

# Modules not yet moved to a repository: none left (issue 12 moved attempt/service.py and
# web/take.py). The list stays so a module can be listed while its queries are being moved.
PENDING: frozenset[str] = frozenset()


def _is_repository(relative: str) -> bool:
    parts = relative.split("/")
    return parts[-1] == "repository.py" or "repository" in parts[:-1]


def _sqlalchemy(module: str | None) -> bool:
    return module is not None and (module == "sqlalchemy" or module.startswith("sqlalchemy."))


def _names_a_builder(value: ast.expr, names: set[str]) -> bool:
    if isinstance(value, ast.IfExp):
        return _names_a_builder(value.body, names) and _names_a_builder(value.orelse, names)
    return isinstance(value, ast.Name) and value.id in names


def statement_calls(source: str) -> list[int]:
    """The lines of ``source`` that call a SQLAlchemy statement builder."""
    tree = ast.parse(source)
    names: set[str] = set()  # local names bound to select/insert/update/delete
    modules: set[str] = set()  # local names bound to the sqlalchemy module (or a submodule)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _sqlalchemy(node.module):
            names.update(a.asname or a.name for a in node.names if a.name in STATEMENTS)
        elif isinstance(node, ast.Import):
            modules.update(
                (a.asname or a.name.split(".")[0]) for a in node.names if _sqlalchemy(a.name)
            )
    for node in ast.walk(tree):  # insert = pg_insert if postgresql else sqlite_insert
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and _names_a_builder(node.value, names)
        ):
            names.add(node.targets[0].id)
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        by_name = isinstance(func, ast.Name) and func.id in names
        by_module = (
            isinstance(func, ast.Attribute)
            and func.attr in STATEMENTS
            and isinstance(func.value, ast.Name)
            and func.value.id in modules
        )
        if by_name or by_module:
            lines.append(node.lineno)
    return sorted(lines)


def _queries_outside_repositories() -> dict[str, list[int]]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if _is_repository(relative) or relative.startswith("migrations/"):
            continue
        lines = statement_calls(path.read_text(encoding="utf-8"))
        if lines:
            found[relative] = lines
    return found


def test_queries_live_in_repositories() -> None:
    found = _queries_outside_repositories()
    stray = {m: lines for m, lines in found.items() if m not in ALLOWED and m not in PENDING}
    assert not stray, (
        "SQL statements built outside a repository.py (move them to the package's "
        f"repository): {stray}"
    )


def test_pending_only_shrinks() -> None:
    found = _queries_outside_repositories()
    done = sorted(m for m in PENDING if m not in found)
    assert not done, f"no statement left in {done}: take them off PENDING"
    gone = sorted(m for m in ALLOWED if not (SRC / m).is_file())
    assert not gone, f"ALLOWED names modules that no longer exist: {gone}"


def test_the_search_sees_every_spelling() -> None:
    source = (
        "import sqlalchemy as sa\n"
        "from sqlalchemy import select, update as upd\n"
        "from sqlalchemy.dialects.postgresql import insert as pg_insert\n"
        "select(A)\n"
        "upd(A)\n"
        "pg_insert(A)\n"
        "sa.delete(A)\n"
        "session.delete(a)\n"
        "delete(a)\n"
        "ins = pg_insert if pg else upd\n"
        "ins(A)\n"
    )
    assert statement_calls(source) == [4, 5, 6, 7, 11]


def filter_calls(source: str) -> list[int]:
    """The lines of ``source`` that call a method named like a statement filter."""
    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in FILTERS
    )


def _is_endpoint_or_page(relative: str) -> bool:
    return relative.split("/")[-1] == "endpoints.py" or relative.startswith("web/")


def test_endpoints_and_pages_build_no_filters() -> None:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if _is_endpoint_or_page(relative):
            lines = filter_calls(path.read_text(encoding="utf-8"))
            if lines:
                found[relative] = lines
    assert not found, (
        "query filters (.where/.filter/.having) built in an endpoint or a page: give the "
        "package's repository a function that takes the typed filter values and returns the "
        "statement (as token.repository.filtered does), and call it from the endpoint: "
        f"{found}"
    )


def test_the_filter_search_sees_method_calls_only() -> None:
    source = (
        "stmt = repository.visible(actor).where(A.id == 1)\n"
        "where(x)\n"
        "stmt.filter_by(id=1)\n"
        "rows = [r for r in rows if r.where]\n"
        "q.having(n > 1)\n"
    )
    assert filter_calls(source) == [1, 3, 5]
    assert _is_endpoint_or_page("token/endpoints.py") and _is_endpoint_or_page("web/take.py")
    assert not _is_endpoint_or_page("token/repository.py")
