"""Read QTI 2.1 / 2.2 / 3.0 content (a content package or a single item XML) into eTest items.

:func:`read_qti` is the entry point. It returns the items it could represent faithfully as
:class:`~etest.content.schemas.ItemIn` (status ``draft``: imported content needs review and
calibration), the media files those items use, and one :class:`QtiItemReport` per item file it
met, imported or skipped with a reason. Only a broken or hostile *input* raises
:class:`QtiPackageError`; a bad *item* is skipped and never fails the import.

Layers: this module reads the zip (safely, within :class:`QtiLimits`) and the manifest, and owns
codes and validation; :mod:`etest.content.qti_xml` parses XML without entities or DTDs and maps
QTI 3 names onto QTI 2 names; :mod:`etest.content.qti_item` turns one item into ItemIn fields.
The mapping is documented in ``docs/qti.md``.

Errors::

    BadRequest (both in etest.content.errors)
    ├── QtiPackageError (400, bad-qti-package)   the whole input is refused
    └── QtiUnknownLevel (400, unknown-level)     the ``level`` argument is not a level
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol
from urllib.parse import unquote

from pydantic import ValidationError

from etest.content.errors import QtiPackageError, QtiUnknownLevel
from etest.content.qti_item import Files, Skip, convert_item, item_identifier, resolve_path
from etest.content.qti_xml import Element, XmlMalformed, XmlRejected, is_element, read_document
from etest.content.schemas import ItemIn, Skill
from etest.kit.archive import ArchiveLimits, ArchiveRefused, SafeZip, safe_entry_name
from etest.kit.levels import LEVELS, canonical_level

__all__ = ["QtiImport", "QtiItemReport", "QtiLimits", "QtiPackageError", "read_qti"]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_MANIFEST = "imsmanifest.xml"
_CODE_MAX = 120


@dataclass(frozen=True)
class QtiLimits:
    """Bounds on what one import may read; every one is checked before the bytes are read.
    The zip's own bounds are :class:`etest.kit.archive.ArchiveLimits` (the flow zip path
    shares them)."""

    max_package_bytes: int = 100 * 1024**2
    max_entry_bytes: int = ArchiveLimits.max_entry_bytes
    max_total_uncompressed: int = ArchiveLimits.max_total_uncompressed
    max_entries: int = ArchiveLimits.max_entries
    max_ratio: float = ArchiveLimits.max_ratio  # compression-ratio bomb guard
    max_xml_bytes: int = 5 * 1024**2

    def archive(self) -> ArchiveLimits:
        return ArchiveLimits(
            max_entry_bytes=self.max_entry_bytes,
            max_total_uncompressed=self.max_total_uncompressed,
            max_entries=self.max_entries,
            max_ratio=self.max_ratio,
        )


@dataclass(frozen=True)
class QtiItemReport:
    file: str  # path inside the package (or the file name)
    identifier: str | None
    status: Literal["imported", "skipped"]
    reason: str | None  # why skipped, e.g. "unsupported interaction: hotspotInteraction"
    code: str | None  # the ItemIn.code when imported


@dataclass
class QtiImport:
    items: list[ItemIn]
    media: dict[str, bytes]  # key == MediaRef.src used in the items
    reports: list[QtiItemReport] = field(default_factory=list)


def read_qti(
    data: bytes,
    *,
    name: str,
    skill: Skill = "reading",
    level: str | None = None,
    code_prefix: str | None = None,
    limits: QtiLimits = QtiLimits(),
    files: Mapping[str, bytes] | None = None,
    partial: bool = False,
) -> QtiImport:
    """Read a QTI content package (zip with ``imsmanifest.xml``) or a single item XML.

    ``name`` is the uploaded file name: it labels codes (``<slug(name)>:<identifier>`` unless
    ``code_prefix`` is given) and sources. For a single item XML only, ``files`` may carry the
    files around it (its images and audio) keyed by path relative to the same root as ``name``
    (``name="items/q1.xml"``, ``files={"img/a.png": ...}``); without it, an item that refers
    to media is skipped as "missing media".

    An item file that is not readable XML (malformed, or declaring entities) refuses the whole
    input with :class:`QtiPackageError` naming the file: a package is all or nothing, so a
    broken export is never half imported unnoticed. ``partial=True`` is the explicit choice to
    import the rest and report that file as skipped.
    """
    if level is not None and canonical_level(level) is None:
        raise QtiUnknownLevel(f"unknown level {level!r}; levels are {', '.join(LEVELS)}")
    if not data:
        raise QtiPackageError("the input is empty")
    if len(data) > limits.max_package_bytes:
        raise QtiPackageError(f"the input is larger than {limits.max_package_bytes} bytes")
    reader = _Reader(
        name=name,
        skill=skill,
        level=level,
        limits=limits,
        prefix=_slug(code_prefix, keep_colon=True) if code_prefix else _name_prefix(name),
        partial=partial,
    )
    if data.startswith(_ZIP_MAGIC):
        reader.read_package(_ZipFiles(data, limits))
    elif _looks_like_xml(data):
        if len(data) > limits.max_xml_bytes:
            raise QtiPackageError(f"the XML is larger than {limits.max_xml_bytes} bytes")
        reader.read_single(data, files or {})
    else:
        raise QtiPackageError("the input is neither a zip content package nor an XML file")
    return QtiImport(items=reader.items, media=reader.media, reports=reader.reports)


# --- input files --------------------------------------------------------------------------------


def _posix(path: str) -> str:
    return path.replace("\\", "/")


def _name_prefix(name: str) -> str:
    """Codes start with the file name without its extension (callers that know the package a
    single XML came from pass ``code_prefix``: :mod:`etest.content.sources` does)."""
    return _slug(posixpath.splitext(posixpath.basename(_posix(name)))[0])


def _looks_like_xml(data: bytes) -> bool:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True  # UTF-16 with a byte-order mark
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


def _safe_entry_name(raw: str) -> str:
    """A zip entry name → its normalised path, or QtiPackageError("unsafe path")."""
    try:
        return safe_entry_name(raw)
    except ArchiveRefused as exc:
        raise QtiPackageError(str(exc)) from exc


class _Package(Files, Protocol):
    def paths(self) -> list[str]:
        """Every file path, sorted."""


class _FileSet:
    """Lookup shared by both inputs: exact path, then percent-decoded, then case-insensitive."""

    def __init__(self, keys: list[str]) -> None:
        self._keys = set(keys)
        folded: dict[str, list[str]] = {}
        for key in keys:
            folded.setdefault(key.casefold(), []).append(key)
        self._folded = folded

    def find(self, path: str) -> str | None:
        for candidate in dict.fromkeys((path, unquote(path))):
            if candidate in self._keys:
                return candidate
            same = self._folded.get(candidate.casefold(), [])
            if len(same) == 1:
                return same[0]
        return None

    def paths(self) -> list[str]:
        return sorted(self._keys)


class _ZipFiles(_FileSet):
    """A zip checked entry by entry before anything is decompressed (etest.kit.archive)."""

    def __init__(self, data: bytes, limits: QtiLimits) -> None:
        self.limits = limits
        try:
            self.zip = SafeZip(data, limits.archive())
        except ArchiveRefused as exc:
            raise QtiPackageError(str(exc)) from exc
        super().__init__(list(self.zip.infos))

    def size(self, key: str) -> int:
        return self.zip.size(key)

    def read(self, key: str) -> bytes:
        try:
            return self.zip.read(key)
        except ArchiveRefused as exc:
            raise QtiPackageError(str(exc)) from exc


class _LooseFiles(_FileSet):
    """A single XML and the files the caller put beside it."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files: dict[str, bytes] = {}
        for raw, content in files.items():
            try:
                path = _safe_entry_name(raw)
            except QtiPackageError:
                continue  # a caller's stray path can never be reached from an item anyway
            if path:
                self.files[path] = content
        super().__init__(list(self.files))

    def size(self, key: str) -> int:
        return len(self.files[key])

    def read(self, key: str) -> bytes:
        return self.files[key]


class _Rooted:
    """A view of a package whose manifest sits in a folder (a zipped folder): paths are
    relative to that folder, never above it."""

    def __init__(self, inner: _ZipFiles, root: str) -> None:
        self.inner = inner
        self.prefix = f"{root}/" if root else ""

    def find(self, path: str) -> str | None:
        key = self.inner.find(self.prefix + path)
        if key is None or not key.startswith(self.prefix):
            return None  # a case-insensitive match in a sibling folder is not inside the package
        return key[len(self.prefix) :]

    def size(self, key: str) -> int:
        return self.inner.size(self.prefix + key)

    def read(self, key: str) -> bytes:
        return self.inner.read(self.prefix + key)

    def paths(self) -> list[str]:
        return [k[len(self.prefix) :] for k in self.inner.paths() if k.startswith(self.prefix)]


# --- the reader ---------------------------------------------------------------------------------


def _slug(text: str, *, keep_colon: bool = False) -> str:
    allowed = r"[^A-Za-z0-9_.:\-]+" if keep_colon else r"[^A-Za-z0-9_.\-]+"
    slug = re.sub(allowed, "-", text).strip("-._:")
    if not slug or not slug[0].isalnum():
        slug = "qti" + (f"-{slug}" if slug else "")
    return slug[:60]


def _classify(resource_type: str) -> str | None:
    kind = resource_type.strip().lower()
    if "qti" not in kind:
        return None
    if re.search(r"v1p\d|xmlv1\b", kind) and "apip" not in kind:
        return "qti1"
    if "item" in kind:
        return "item"
    if "test" in kind or "section" in kind:
        return "test"
    return None


class _Reader:
    def __init__(
        self,
        *,
        name: str,
        skill: Skill,
        level: str | None,
        limits: QtiLimits,
        prefix: str,
        partial: bool = False,
    ) -> None:
        self.name = name
        self.skill = skill
        self.level = level
        self.limits = limits
        self.prefix = prefix
        self.items: list[ItemIn] = []
        self.media: dict[str, bytes] = {}
        self.reports: list[QtiItemReport] = []
        self.codes: set[str] = set()
        self.single = False
        self.partial = partial

    # -- inputs --

    def read_single(self, data: bytes, files: Mapping[str, bytes]) -> None:
        self.single = True
        try:
            path = _safe_entry_name(self.name) or "item.xml"
        except QtiPackageError:
            path = posixpath.basename(_posix(self.name)) or "item.xml"
        loose = _LooseFiles({**files, path: data})
        self._item_file(loose, path, data)

    def read_package(self, zipped: _ZipFiles) -> None:
        files, manifest_key = self._manifest_root(zipped)
        if files.size(manifest_key) > self.limits.max_xml_bytes:
            raise QtiPackageError(
                f"imsmanifest.xml is larger than {self.limits.max_xml_bytes} bytes"
            )
        manifest = self._manifest(files.read(manifest_key))
        listed: list[tuple[str, str]] = []  # (kind, path)
        for resource in [el for el in manifest.iter() if is_element(el) and el.tag == "resource"]:
            kind = _classify(resource.get("type") or "")
            if kind is None:
                continue
            href = self._resource_href(resource)
            if href is None:
                continue
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:", href) or href.startswith("//"):
                self._skip(href, None, f"external file: {href[:200]}")
                continue
            path = resolve_path("", href)
            if path is None:
                raise QtiPackageError(f"unsafe path in imsmanifest.xml: {href[:200]!r}")
            listed.append((kind, path))
        seen: set[str] = set()
        for kind, path in listed:
            if path in seen:
                continue
            seen.add(path)
            key = files.find(path)
            if key is None:
                self._skip(path, None, f"file not in package: {path}")
            elif kind == "test":
                self._skip(key, None, "not an item: test")
            elif kind == "qti1":
                self._skip(key, None, "QTI 1.x is not supported")
            else:
                self._item_file(files, key, None)
        if not any(kind == "item" for kind, _ in listed):
            self._scan(files, seen)

    # -- manifest --

    def _manifest_root(self, zipped: _ZipFiles) -> tuple[_Package, str]:
        at_root = zipped.find(_MANIFEST)
        if at_root is not None and "/" not in at_root:
            return zipped, at_root
        nested = [
            k
            for k in zipped.paths()
            if k.count("/") == 1 and k.rsplit("/", 1)[1].lower() == _MANIFEST
        ]
        if len(nested) == 1:
            # A package zipped with its folder ("pkg/imsmanifest.xml"): read it from there.
            folder = nested[0].split("/", 1)[0]
            return _Rooted(zipped, folder), nested[0].split("/", 1)[1]
        raise QtiPackageError(
            "the zip has no imsmanifest.xml at its root: not a QTI content package"
        )

    @staticmethod
    def _manifest(data: bytes) -> Element:
        try:
            root = read_document(data)
        except XmlRejected as exc:
            raise QtiPackageError(f"imsmanifest.xml: {exc}") from exc
        if root.tag != "manifest":
            raise QtiPackageError(f"imsmanifest.xml is not an IMS manifest (root <{root.tag}>)")
        return root

    @staticmethod
    def _resource_href(resource: Element) -> str | None:
        href = (resource.get("href") or "").strip()
        if not href:
            first = next(
                (
                    f
                    for f in resource
                    if is_element(f) and f.tag == "file" and (f.get("href") or "").strip()
                ),
                None,
            )
            if first is None:
                return None
            href = (first.get("href") or "").strip()
        bases = []
        node = resource
        while node is not None:
            base = (node.get("xmlBase") or "").strip()
            if base:
                bases.append(base)
            node = node.getparent()
        for base in bases:  # innermost first
            if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:", href):
                href = posixpath.join(base, href)
        return href

    def _scan(self, files: _Package, seen: set[str]) -> None:
        """No item listed in the manifest: find item files by their root element."""
        for key in files.paths():
            if key in seen or not key.lower().endswith(".xml") or key.lower() == _MANIFEST:
                continue
            if files.size(key) > self.limits.max_xml_bytes:
                self._skip(key, None, "XML too large")
                continue
            try:
                root = read_document(files.read(key))
            except XmlMalformed:
                continue  # not ours to judge: the manifest does not say it is QTI
            except XmlRejected as exc:
                self._skip(key, None, str(exc))
                continue
            if root.tag in (
                "assessmentItem",
                "assessmentTest",
                "assessmentSection",
                "questestinterop",
            ):
                self._item_root(files, key, root)

    # -- items --

    def _item_file(self, files: Files, key: str, data: bytes | None) -> None:
        if files.size(key) > self.limits.max_xml_bytes:
            self._skip(key, None, "XML too large")
            return
        if data is None:
            data = files.read(key)
        try:
            root = read_document(data)
        except XmlRejected as exc:
            if not self.partial:
                raise QtiPackageError(
                    f"{key}: {exc}; nothing was imported (import with partial to skip it)"
                ) from exc
            self._skip(key, None, str(exc))
            return
        self._item_root(files, key, root)

    def _item_root(self, files: Files, key: str, root: Element) -> None:
        if root.tag in ("assessmentTest", "assessmentSection"):
            self._skip(key, item_identifier(root, "") or None, f"not an item: {root.tag}")
            return
        if root.tag == "questestinterop":
            self._skip(key, None, "QTI 1.x is not supported")
            return
        if root.tag != "assessmentItem":
            self._skip(key, None, f"not a QTI item: root element <{root.tag}>")
            return
        identifier = item_identifier(root, posixpath.splitext(posixpath.basename(key))[0])
        try:
            converted = convert_item(
                root, path=key, files=files, max_xml_bytes=self.limits.max_xml_bytes
            )
        except Skip as exc:
            self._skip(key, identifier, str(exc))
            return
        code = self._code(identifier)
        source = (
            f"qti:{self.name}#{identifier}"
            if self.single
            else f"qti:{self.name}/{key}#{identifier}"
        )
        try:
            item = ItemIn(
                code=code,
                skill=self.skill,
                level=self.level,
                status="draft",
                source=source[:500],
                **converted.fields,
            )
        except ValidationError as exc:
            self._skip(key, identifier, "invalid item: " + _validation_message(exc))
            return
        self.codes.add(code)
        self.items.append(item)
        self.media.update(converted.media)
        self.reports.append(
            QtiItemReport(
                file=key, identifier=identifier, status="imported", reason=None, code=code
            )
        )

    def _code(self, identifier: str) -> str:
        tail = re.sub(r"[^A-Za-z0-9_.:\-]+", "-", identifier).strip("-") or "item"
        code = f"{self.prefix}:{tail}"[:_CODE_MAX]
        unique, n = code, 2
        while unique in self.codes:
            suffix = f"-{n}"
            unique = code[: _CODE_MAX - len(suffix)] + suffix
            n += 1
        return unique

    def _skip(self, file: str, identifier: str | None, reason: str) -> None:
        self.reports.append(
            QtiItemReport(
                file=file, identifier=identifier, status="skipped", reason=reason, code=None
            )
        )


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)[:500]
