"""Where content comes from: a flow JSON file, a folder of them, a zip of them, or QTI (a content
package zip or a single item XML). Each becomes a :class:`Source`: a parsed flow (or the problems
that stopped it) and a way to read the media it names."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from etest.content.schemas import FORMAT, FlowFile, Skill
from etest.kit.archive import ArchiveLimits, ArchiveRefused, SafeZip, safe_entry_name

MediaReader = Callable[[str], bytes | None]

#: The limits of every zip read here, flows or QTI (the QTI reader applies its own
#: :class:`~etest.content.qti.QtiLimits`, whose zip bounds default to these).
ZIP_LIMITS = ArchiveLimits()


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    message: str


@dataclass
class Source:
    name: str
    flow: FlowFile | None
    read_media: MediaReader
    problems: list[Problem] = field(default_factory=list)
    #: QTI content has no version of its own: a changed package becomes the next version.
    auto_version: bool = False
    qti_reports: list[Any] = field(default_factory=list)
    content_hash: str = ""


def json_path(loc: tuple[int | str, ...]) -> str:
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def parse_flow(name: str, raw: bytes, read_media: MediaReader) -> Source:
    digest = hashlib.sha256(raw).hexdigest()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Source(
            name,
            None,
            read_media,
            [Problem(name, "$", f"malformed JSON: {exc}")],
            content_hash=digest,
        )
    try:
        flow = FlowFile.model_validate(data)
    except ValidationError as exc:
        problems = [Problem(name, json_path(tuple(e["loc"])), e["msg"]) for e in exc.errors()]
        return Source(name, None, read_media, problems, content_hash=digest)
    return Source(name, flow, read_media, content_hash=digest)


def _folder_reader(root: Path) -> MediaReader:
    resolved_root = root.resolve()

    def read(src: str) -> bytes | None:
        target = (resolved_root / src).resolve()
        if not target.is_relative_to(resolved_root) or not target.is_file():
            return None
        return target.read_bytes()

    return read


def _zip_reader(zipped: SafeZip, base: str, limit: int) -> MediaReader:
    def read(src: str) -> bytes | None:
        try:
            key = safe_entry_name(f"{base}/{src}" if base else src)
        except ArchiveRefused:
            return None  # a path leaving the zip names nothing in it
        if key not in zipped.infos or zipped.size(key) > limit:
            return None
        try:
            return zipped.read(key)
        except ArchiveRefused:
            return None  # damaged, or not the size its header declares: as good as absent

    return read


def _is_qti_xml(raw: bytes) -> bool:
    head = raw[:4000].lower()
    return b"assessmentitem" in head or b"qti-assessment-item" in head


_MEDIA_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".webp",
    ".svg",
    ".mp3",
    ".ogg",
    ".oga",
    ".opus",
    ".wav",
    ".m4a",
    ".webm",
    ".css",
}


def _media_around(folder: Path, limit: int = 50 * 1024 * 1024) -> dict[str, bytes]:
    """The media files below the folder of a single QTI item, keyed relative to it."""
    files: dict[str, bytes] = {}
    total = 0
    for f in sorted(folder.rglob("*")):
        if f.is_file() and not f.is_symlink() and f.suffix.lower() in _MEDIA_SUFFIXES:
            total += f.stat().st_size
            if total > limit:
                break
            files[f.relative_to(folder).as_posix()] = f.read_bytes()
    return files


def _qti_source(
    name: str,
    data: bytes,
    skill: Skill,
    level: str | None,
    files: dict[str, bytes] | None = None,
    *,
    partial: bool = False,
    code_prefix: str | None = None,
) -> Source:
    from etest.content.qti import QtiPackageError, read_qti
    from etest.content.qti_export import export_source

    exported = export_source(name, data)  # eTest's own export: read back without loss
    if exported is not None:
        return exported
    digest = hashlib.sha256(data).hexdigest()
    try:
        result = read_qti(
            data,
            name=PurePosixPath(name).name if files is not None else name,
            skill=skill,
            level=level,
            files=files,
            code_prefix=code_prefix or _code_prefix(name),
            partial=partial,
        )
    except QtiPackageError as exc:
        return Source(
            name,
            None,
            lambda _: None,
            [Problem(name, "$", exc.detail)],
            auto_version=True,
            content_hash=digest,
        )
    code = f"qti-{_code_prefix(name)}"
    flow = FlowFile.model_construct(
        format=FORMAT,
        kind="bank",
        code=code,
        version=1,
        title=f"QTI import {name}",
        plan=None,
        level=None,
        description=None,
        can_do=[],
        review_lessons=[],
        items=result.items,
        engine=None,
    )
    return Source(
        name,
        flow,
        result.media.get,
        auto_version=True,
        qti_reports=list(result.reports),
        content_hash=digest,
    )


def _code_prefix(name: str) -> str:
    """Item codes of QTI content start with the file's path (so two folders' ``q1.xml`` differ)."""
    stem = str(PurePosixPath(name).with_suffix(""))
    return (
        "".join(c if c.isalnum() or c in "._-" else "-" for c in stem).strip("-.")[-100:] or "qti"
    )


def _order(paths: list[Path], root: Path) -> list[Path]:
    index = root / "index.json"
    if index.is_file():
        listed = [root / p for p in json.loads(index.read_text())["files"]]
        return listed + [p for p in paths if p not in listed and p != index]

    def key(p: Path) -> tuple[int, str]:
        try:
            kind = json.loads(p.read_bytes()).get("kind") if p.suffix == ".json" else "qti"
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            kind = None
        return (0 if kind == "bank" else 1, str(p))

    return sorted(paths, key=key)


def _package_of(path: Path) -> tuple[str, str | None]:
    """The name a single QTI XML file is imported under and the code prefix of its items.

    A file of an unpacked package (the nearest folder above, up to four, holding an
    ``imsmanifest.xml``) is named ``<package>/<path in it>`` and its items take the package's
    prefix, the codes they get when the package folder is imported whole: ``kennisnet-1/
    ITEM002.xml`` gives ``kennisnet-1:ITEM002`` and ``kennisnet-2/ITEM002.xml``
    ``kennisnet-2:ITEM002``, two items, never two versions of one. A loose file is named
    ``<its folder>/<file>`` (prefix ``<folder>-<stem>``)."""
    for parent in list(path.parents)[:4]:
        if (parent / "imsmanifest.xml").is_file() and parent.name:
            return f"{parent.name}/{path.relative_to(parent).as_posix()}", _code_prefix(parent.name)
    return f"{path.parent.name}/{path.name}".lstrip("/"), None


def sources_from_path(
    path: Path, *, skill: Skill = "reading", level: str | None = None, partial: bool = False
) -> list[Source]:
    """A flow file, a QTI file, a zip, or a folder (walked recursively: a folder holding an
    ``imsmanifest.xml`` is read as one unpacked QTI package). ``partial``: a QTI package with an
    unreadable item file imports its other items (else it is refused whole)."""
    if path.is_file():
        name, prefix = _package_of(path) if path.suffix.lower() == ".xml" else (path.name, None)
        return sources_from_bytes(
            name,
            path.read_bytes(),
            skill=skill,
            level=level,
            folder=path.parent,
            partial=partial,
            code_prefix=prefix,
        )
    if not path.is_dir():
        return [
            Source(
                str(path), None, lambda _: None, [Problem(str(path), "$", "no such file or folder")]
            )
        ]
    sources: list[Source] = []
    files: list[Path] = []
    for sub in sorted(path.rglob("*")):
        if any(parent in files for parent in sub.parents):
            continue
        is_package = sub.is_dir() and (sub / "imsmanifest.xml").is_file()
        if is_package or (sub.is_file() and sub.suffix.lower() in (".json", ".zip", ".xml")):
            files.append(sub)
    for item in _order(files, path):
        if item.is_dir():
            sources.append(
                _qti_source(
                    str(item.relative_to(path)), _zip_folder(item), skill, level, partial=partial
                )
            )
        elif item.name != "index.json" and item.name != "imsmanifest.xml":
            sources.extend(
                sources_from_bytes(
                    str(item.relative_to(path)),
                    item.read_bytes(),
                    skill=skill,
                    level=level,
                    folder=item.parent,
                    partial=partial,
                )
            )
    return sources


def _zip_folder(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file() and not f.is_symlink():
                zf.write(f, str(f.relative_to(folder)))
    return buf.getvalue()


def sources_from_bytes(
    name: str,
    data: bytes,
    *,
    skill: Skill = "reading",
    level: str | None = None,
    folder: Path | None = None,
    media_limit: int = 20 * 1024 * 1024,
    partial: bool = False,
    code_prefix: str | None = None,
) -> list[Source]:
    """One uploaded or named file: flow JSON, QTI XML, QTI package zip, or a zip of flows."""
    lowered = name.lower()
    if lowered.endswith(".json") or data.lstrip()[:1] == b"{":
        reader = _folder_reader(folder) if folder is not None else (lambda _: None)
        return [parse_flow(name, data, reader)]
    if data[:2] == b"PK":
        # One set of limits for every zip (etest.kit.archive, the QTI reader's too): a zip
        # that is too large, too many files or a bomb is refused before anything expands.
        try:
            zipped = SafeZip(data, ZIP_LIMITS)
        except ArchiveRefused as exc:
            return [Source(name, None, lambda _: None, [Problem(name, "$", str(exc))])]
        names = list(zipped.infos)
        if "imsmanifest.xml" in names or not any(n.endswith(".json") for n in names):
            return [_qti_source(name, data, skill, level, partial=partial)]
        return _flows_in_zip(name, zipped, media_limit)
    if lowered.endswith(".xml") or data.lstrip()[:1] == b"<":
        if not _is_qti_xml(data):
            return [
                Source(
                    name,
                    None,
                    lambda _: None,
                    [Problem(name, "$", "an XML file that is not a QTI item")],
                    auto_version=True,
                )
            ]
        return [
            _qti_source(
                name,
                data,
                skill,
                level,
                _media_around(folder) if folder is not None else None,
                partial=partial,
                code_prefix=code_prefix,
            )
        ]
    return [
        Source(
            name,
            None,
            lambda _: None,
            [Problem(name, "$", "unknown content: expected flow JSON, QTI XML or a zip")],
        )
    ]


def _flows_in_zip(name: str, zipped: SafeZip, media_limit: int) -> list[Source]:
    """The flows of a zip (every ``*.json`` but ``index.json``), each reading its media from
    beside it. The zip was checked as a whole already (paths, sizes, ratio: :class:`SafeZip`);
    a single file may still be over ``media_limit``."""
    out = []
    jsons = [p for p in zipped.infos if p.endswith(".json") and not p.endswith("index.json")]
    for path in jsons:
        if zipped.size(path) > media_limit:
            out.append(
                Source(
                    f"{name}/{path}",
                    None,
                    lambda _: None,
                    [Problem(f"{name}/{path}", "$", "file too large")],
                )
            )
            continue
        base = str(PurePosixPath(path).parent)
        try:
            raw = zipped.read(path)
        except ArchiveRefused as exc:
            return [Source(name, None, lambda _: None, [Problem(name, path, str(exc))])]
        out.append(
            parse_flow(
                f"{name}/{path}", raw, _zip_reader(zipped, "" if base == "." else base, media_limit)
            )
        )
    out.sort(key=lambda s: (0 if s.flow is not None and s.flow.kind == "bank" else 1, s.name))
    return out
