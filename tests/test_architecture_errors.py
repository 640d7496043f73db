"""One way to raise: every error a client may see is a named class in its package's
``errors.py`` (shared ones in ``etest/errors.py``) with its own ``status`` and ``code``; no site
raises a base class with a ``code=`` passed in, and every code is in ``CATALOG``.

The error classes are found by walking ``src/etest`` with ``ast``: a class whose base is
``EtestError``, or (transitively) another such class, by name."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from etest.errors import CATALOG, EtestError

SRC = Path(__file__).resolve().parents[1] / "src" / "etest"


def _trees() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(), str(path)) for path in sorted(SRC.rglob("*.py"))}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def error_classes(trees: dict[Path, ast.Module]) -> dict[str, list[Path]]:
    """Every class that derives from ``EtestError`` → the files that define a class so named."""
    bases: dict[str, set[str]] = {}
    where: dict[str, list[Path]] = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(
                    n for n in map(_name, node.bases) if n is not None
                )
                where.setdefault(node.name, []).append(path)
    errors = {"EtestError"}
    grown = True
    while grown:
        found = {name for name, parents in bases.items() if parents & errors} - errors
        errors |= found
        grown = bool(found)
    return {name: where[name] for name in errors}


def test_every_error_class_lives_in_an_errors_module() -> None:
    outside = sorted(
        f"{path.relative_to(SRC.parent)}: {name}"
        for name, paths in error_classes(_trees()).items()
        for path in paths
        if path.name != "errors.py"
    )
    assert not outside, f"error classes outside an errors.py: {outside}"


def test_no_error_is_raised_with_a_code_passed_in() -> None:
    trees = _trees()
    errors = set(error_classes(trees))
    found: set[str] = set()
    for path, tree in trees.items():
        raised = {id(n.exc) for n in ast.walk(tree) if isinstance(n, ast.Raise)}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and (id(node) in raised or _name(node.func) in errors)
                and any(k.arg == "code" for k in node.keywords)
            ):
                found.add(f"{path.relative_to(SRC.parent)}:{node.lineno}")
    assert not found, f"errors built with code=...: name an error class instead: {sorted(found)}"


def _subclasses(cls: type[EtestError]) -> list[type[EtestError]]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def test_every_error_code_is_in_the_catalog() -> None:
    for path in sorted(SRC.rglob("errors.py")):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        importlib.import_module(module)
    classes = [c for c in _subclasses(EtestError) if c.__module__.startswith("etest.")]
    assert len(classes) > 40
    missing = sorted(
        f"{c.__module__}.{c.__name__}: {c.code}" for c in classes if c.code not in CATALOG
    )
    assert not missing, missing
