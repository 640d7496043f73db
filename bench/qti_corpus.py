"""The QTI reader over the public sample corpus, before and after a change, in one run.

    .venv/bin/python bench/qti_corpus.py [--before REV] [--root ../shared/qti-samples]

For each side (the reader at git revision ``REV``, default the commit before QTI-without-loss,
and the reader of the working tree) a child process imports every package zip and single item
XML of the corpus (malformed/ included: refusals are counted) with ``read_qti``, as
``tests/content/test_qti.py`` does: a single item gets the non-XML files of its source folder.
It prints, side by side:

- items imported per eTest type;
- item files per interaction they contain (an item with three inline choices counts once under
  ``inlineChoiceInteraction``; a composite item under each of its interactions), and how many of
  them were imported: the figure issue 17 asks for, before and after the cloze, gap_match and
  hottext types (``--before 7732d85``, the commit before they were read from QTI);
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
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
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


def _interactions(data: bytes) -> list[str]:
    """The interactions of one item file, in QTI 2 names (``qti-gap-match-interaction`` is
    ``gapMatchInteraction``); an unreadable file has none. Read here, not by the side measured,
    so that both sides are counted alike."""
    from lxml import etree  # type: ignore[import-untyped]

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        return []
    names = set()
    for el in root.iter(etree.Element):
        local = el.tag.rsplit("}", 1)[-1]
        if local.startswith("qti-"):
            local = re.sub(r"-([a-z])", lambda m: m.group(1).upper(), local[4:])
        if local.endswith("Interaction"):
            names.add(local)
    return sorted(names)


def _item_files(path: Path) -> dict[str, bytes]:
    """An input's XML files by path (a package's entries; a single item as itself)."""
    data = path.read_bytes()
    if not data.startswith(b"PK"):
        return {path.name: data}
    try:
        with zipfile.ZipFile(path) as zf:
            return {
                n: zf.read(n)
                for n in zf.namelist()
                if n.lower().endswith(".xml") and not n.lower().endswith("imsmanifest.xml")
            }
    except zipfile.BadZipFile:
        return {}


def _file_of(report_file: str, files: dict[str, bytes]) -> bytes | None:
    for name, data in files.items():
        if name == report_file or name.endswith("/" + report_file) or report_file.endswith(name):
            return data
    return None


def count(root: Path) -> dict[str, Any]:
    """Run inside the child process: the ``etest`` on ``sys.path`` is the side measured."""
    from etest.content.qti import QtiPackageError, read_qti
    from etest.content.sanitize import clean_html

    imported: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    damaged: list[str] = []
    numeric = 0
    per_interaction: Counter[str] = Counter()
    imported_per_interaction: Counter[str] = Counter()
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
            texts += [getattr(item, "body", None)]  # cloze, gap_match, hottext (issue 17)
            texts += [c.text for g in getattr(item, "gaps", []) for c in g.choices]
            if any(t and _visible(t) != _visible(clean_html(t)) for t in texts):
                damaged.append(f"{path.name}#{item.code}")
            if getattr(item.key, "number", None) is not None:
                numeric += 1
        files = _item_files(path)
        for report in result.reports:
            data = _file_of(report.file, files)
            if data is not None and report.identifier is not None:
                for name in _interactions(data) or ["(no interaction)"]:
                    per_interaction[name] += 1
                    imported_per_interaction[name] += report.status == "imported"
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
        "interactions": dict(per_interaction),
        "interactions_imported": dict(imported_per_interaction),
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


def _interaction_table(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Item files per interaction they contain, and how many of them each side imported."""
    total = after.get("interactions", {})
    got_before = before.get("interactions_imported", {})
    got_after = after.get("interactions_imported", {})
    rows = [
        "| Item files containing the interaction | files | imported before | imported after |",
        "|---|---:|---:|---:|",
    ]
    for name in sorted(total, key=lambda k: (-total[k], k)):
        rows.append(
            f"| {name} | {total[name]} | {got_before.get(name, 0)} | {got_after.get(name, 0)} |"
        )
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
        *_interaction_table(before, after),
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
