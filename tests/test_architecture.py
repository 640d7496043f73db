"""The package graph of ``src/etest`` has no cycle.

Every ``etest`` import is an edge from the importing module's node to the imported module's
node: a package under ``src/etest`` (``attempt``, ``certificate``, ``kit``, ``models``, ``irt``,
…) is one node, and so is a top-level module (``app``, ``cli``, ``deps``, ``errors``,
``config``, ``db``, …). Imports inside functions count as much as those at module level: they
run, only later. Imports under ``if TYPE_CHECKING:`` do not count: they never run, and they are
how a type annotation names a class of a layer above without depending on it at run time.

The allowed layering is written down in ``docs/architecture.md`` ("Package layers"); this test
is what holds it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "etest"

Edges = dict[str, dict[str, list[str]]]


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _node(module: str) -> str | None:
    """The node of a dotted ``etest`` module name, or None for a module outside ``etest``."""
    parts = module.split(".")
    if parts[0] != "etest":
        return None
    return parts[1] if len(parts) > 1 else "etest"


def _is_module(node: str, src: Path) -> bool:
    return (src / node).is_dir() or (src / f"{node}.py").is_file()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module, module: str, is_package: bool) -> list[tuple[str, int]]:
    """The dotted names of every module ``tree`` imports, with the line, outside TYPE_CHECKING."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".")
                if not is_package:
                    package.pop()
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            # `from etest import attempt` names a module, not an attribute of etest
            if target == "etest":
                found.extend((f"etest.{alias.name}", node.lineno) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def package_graph(src: Path = SRC) -> Edges:
    """node → imported node → the places (``file:line``) that import it, for the ``etest``
    package at ``src`` (this checkout's by default; bench/code_metrics.py passes an export of
    another revision)."""
    edges: Edges = defaultdict(lambda: defaultdict(list))
    for path in sorted(src.rglob("*.py")):
        module = _module_name(path, src)
        source = _node(module)
        assert source is not None
        tree = ast.parse(path.read_text(), filename=str(path))
        for target, line in _imports(tree, module, path.name == "__init__.py"):
            node = _node(target)
            # `from etest import __version__` names an attribute, not a module: no node
            if node is not None and node not in (source, "etest") and _is_module(node, src):
                edges[source][node].append(f"{path.relative_to(src.parent)}:{line}")
    return edges


def _strongly_connected(edges: Edges) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, {})):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def _cycle_through(edges: Edges, component: list[str]) -> list[str]:
    """A shortest cycle through the first node of ``component``, staying inside it."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for other in sorted(edges[node]):
            if other == start:
                return paths[node] + [start]
            if other in members and other not in paths:
                paths[other] = paths[node] + [other]
                queue.append(other)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def describe(edges: Edges, component: list[str]) -> str:
    """The cycle spelled out: one cycle as an example, then every import inside the component."""
    members = set(component)
    lines = [
        f"{len(component)} packages in one cycle: {', '.join(component)}",
        "  e.g. " + " → ".join(_cycle_through(edges, component)),
        "  the imports between them:",
    ]
    for here in component:
        for there in sorted(set(edges[here]) & members):
            lines.append(f"    {here} → {there}: {', '.join(edges[here][there])}")
    return "\n".join(lines)


def test_the_package_graph_has_no_cycle() -> None:
    edges = package_graph()
    cycles = _strongly_connected(edges)
    assert not cycles, "import cycles between packages:\n" + "\n".join(
        describe(edges, component) for component in cycles
    )


def test_the_walk_sees_imports_inside_functions_and_skips_type_checking() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "import etest.kit.text\n"
        "from etest import errors\n"
        "if TYPE_CHECKING:\n"
        "    from etest.app import create_app\n"
        "def later():\n"
        "    from etest.webhook import tasks\n"
        "    from .sibling import x\n"
    )
    names = [name for name, _ in _imports(tree, "etest.outbox.worker", is_package=False)]
    assert "etest.kit.text" in names
    assert "etest.errors" in names
    assert "etest.webhook" in names
    assert "etest.outbox.sibling" in names
    assert "etest.app" not in names


def test_a_cycle_is_found_and_spelled_out_with_its_imports() -> None:
    edges: Edges = {
        "a": {"b": ["etest/a/x.py:1"]},
        "b": {"a": ["etest/b/y.py:2"]},
        "c": {"a": ["etest/c/z.py:3"]},
    }
    assert _strongly_connected(edges) == [["a", "b"]]
    text = describe(edges, ["a", "b"])
    assert "a → b → a" in text
    assert "a → b: etest/a/x.py:1" in text and "b → a: etest/b/y.py:2" in text
    assert "etest/c/z.py" not in text
