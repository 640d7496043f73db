"""The QTI reader over the public sample corpus, before and after a change, in one run.

    .venv/bin/python bench/qti_corpus.py [--before REV] [--root ../shared/qti-samples]

For each side (the reader at git revision ``REV``, default the commit before QTI-without-loss,
and the reader of the working tree) a child process imports every package zip and single item
XML of the corpus (malformed/ included: refusals are counted) with ``read_qti``, as
``tests/content/test_qti.py`` does: a single item gets the non-XML files of its source folder.
It prints, side by side:

- items imported per eTest type;
- items skipped per reason (``unsupported interaction: X`` keeps X; other reasons by category);
- inputs refused whole (``QtiPackageError``), per reason category;
- imported items whose HTML the storage sanitiser (that side's ``clean_html``) would change in
  meaning: visible text lost between the reader's output and what is stored;
- text-entry items scored as numbers.

Figures, not timings: nothing here is timed. The corpus is test data by other authors, read in
place and never copied; without it the script says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from io import BytesIO
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO.parent / "shared" / "qti-samples"
#: The last commit before "QTI without loss" (issue 17).
DEFAULT_BEFORE = "cac8f61"


def _inputs(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    out: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or path.suffix not in (".zip", ".xml") or len(rel.parts) < 3:
            continue
        if path.suffix == ".zip" or "malformed" in rel.parts:
            out.append((path, {"name": path.name}))
            continue
        base = root / rel.parts[0] / rel.parts[1]
        files = {
            p.relative_to(base).as_posix(): p.read_bytes()
            for p in base.rglob("*")
            if p.is_file() and p.suffix != ".xml"
        }
        out.append((path, {"name": path.relative_to(base).as_posix(), "files": files}))
    return out


def _visible(html: str) -> str:
    import lxml.html  # type: ignore[import-untyped]

    if not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    return " ".join(root.text_content().split())


def count(root: Path) -> dict[str, Any]:
    """Run inside the child process: the ``etest`` on ``sys.path`` is the side measured."""
    from etest.content.qti import QtiPackageError, read_qti
    from etest.content.sanitize import clean_html

    imported: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    damaged: list[str] = []
    numeric = 0
    inputs = _inputs(root)
    for path, kwargs in inputs:
        try:
            result = read_qti(path.read_bytes(), **kwargs)
        except QtiPackageError as exc:
            parts = [p.strip() for p in str(exc.detail).split(":")]
            # "<file>.xml: not well-formed XML: …" → "<file>.xml: not well-formed XML"
            is_file = parts[0].endswith(".xml") and " " not in parts[0]
            head = ": ".join(parts[:2]) if is_file else parts[0]
            if is_file and parts[0] == path.name:
                head = head.replace(path.name, "<the item>", 1)
            refused[head] += 1
            continue
        for item in result.items:
            imported[item.type] += 1
            texts = [item.prompt, item.stimulus.text if item.stimulus else None]
            texts += [o.text for o in [*item.options, *item.targets]]
            if any(t and _visible(t) != _visible(clean_html(t)) for t in texts):
                damaged.append(f"{path.name}#{item.code}")
            if getattr(item.key, "number", None) is not None:
                numeric += 1
        for report in result.reports:
            if report.status == "skipped" and report.reason:
                why = report.reason
                key = why if why.startswith("unsupported interaction") else why.split(":", 1)[0]
                skipped[key] += 1
    return {
        "inputs": len(inputs),
        "imported": dict(imported),
        "skipped": dict(skipped),
        "refused": dict(refused),
        "damaged_in_storage": damaged,
        "numeric": numeric,
    }


def _side(src: Path, root: Path) -> dict[str, Any]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]);"
        "from qti_corpus import count; from pathlib import Path;"
        "print(json.dumps(count(Path(sys.argv[3]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(src), str(REPO / "bench"), str(root)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),  # never the repository: its src/ must not shadow the side's
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _src_at(rev: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "src"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _table(title: str, before: dict[str, int], after: dict[str, int]) -> list[str]:
    rows = [f"| {title} | before | after |", "|---|---:|---:|"]
    keys = sorted(set(before) | set(after), key=lambda k: (-(after.get(k, 0)), k))
    rows += [f"| {k} | {before.get(k, 0)} | {after.get(k, 0)} |" for k in keys]
    rows.append(f"| **total** | {sum(before.values())} | {sum(after.values())} |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="git revision of 'before'")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the corpus folder")
    args = parser.parse_args()
    if not args.root.is_dir():
        print(f"no QTI corpus at {args.root} (shared/ beside the clone)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        before = _side(_src_at(args.before, Path(tmp)), args.root)
    after = _side(REPO / "src", args.root)
    lines = [
        f"QTI corpus {args.root} ({after['inputs']} inputs): before = {args.before}, "
        "after = working tree",
        "",
        *_table("Imported, by eTest type", before["imported"], after["imported"]),
        "",
        *_table("Skipped item, by reason", before["skipped"], after["skipped"]),
        "",
        *_table("Input refused whole, by reason", before["refused"], after["refused"]),
        "",
        "| Other | before | after |",
        "|---|---:|---:|",
        f"| imported items whose stored HTML loses text | {len(before['damaged_in_storage'])} "
        f"| {len(after['damaged_in_storage'])} |",
        f"| text-entry items scored as numbers | {before['numeric']} | {after['numeric']} |",
        "",
        "damaged before: " + (", ".join(before["damaged_in_storage"]) or "none"),
        "damaged after: " + (", ".join(after["damaged_in_storage"]) or "none"),
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
