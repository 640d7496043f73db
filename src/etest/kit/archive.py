"""Reading a zip someone uploaded, within limits checked before anything is decompressed.

The one implementation behind every zip eTest reads from outside (QTI content packages and zips
of flow files, :mod:`etest.content.qti` and :mod:`etest.content.sources`): a zip is refused as a
whole when it declares too many entries (read from its end record, before the central directory
is parsed), an entry larger than ``max_entry_bytes``, more than ``max_total_uncompressed`` in
all, an entry compressed more than ``max_ratio`` times (a zip bomb), an unsafe path (absolute,
leaving the archive, a symbolic link), an encrypted entry or a path twice. Reading an entry
stops at its declared size, so a header that lies cannot make it expand further.

It raises :class:`ArchiveRefused` (a plain exception with a sentence for people): each caller
turns it into its own problem (``bad-qti-package``, ``invalid-content``). Nothing here knows
HTTP or the domain.
"""

from __future__ import annotations

import io
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass

__all__ = ["ZIP_ERRORS", "ArchiveLimits", "ArchiveRefused", "SafeZip", "safe_entry_name"]

_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"

#: What zipfile raises on damaged or exotic archives (unknown versions and compression methods,
#: truncated headers, bad CRCs): all of them mean "this archive cannot be read".
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    ValueError,
    OSError,
    EOFError,
    struct.error,
    zlib.error,
    KeyError,
)


class ArchiveRefused(Exception):
    """The archive as a whole may not be read; ``str()`` says why, in one sentence."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds on one archive; every one is checked before an entry is decompressed."""

    max_entry_bytes: int = 50 * 1024**2
    max_total_uncompressed: int = 300 * 1024**2
    max_entries: int = 5000
    #: Uncompressed / compressed size of one entry above which it is a bomb ...
    max_ratio: float = 200.0
    #: ... once it is larger than this (indented XML and blank images compress well).
    ratio_min_bytes: int = 64 * 1024


def safe_entry_name(raw: str) -> str:
    """A zip entry name → its normalised path (``/`` separators, no ``.`` parts), or
    :class:`ArchiveRefused` ("unsafe path") when it is absolute or leaves the archive."""
    name = raw.replace("\\", "/")
    if "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise ArchiveRefused(f"unsafe path in the zip: {raw[:200]!r} is absolute")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused(f"unsafe path in the zip: {raw[:200]!r} leaves the package")
    return "/".join(parts)


def declared_entries(data: bytes) -> int | None:
    """The entry count the zip's end record declares (zip64 included), read without parsing
    the central directory; ``None`` when no end record is found (zipfile will say why)."""
    at = data.rfind(_EOCD, max(0, len(data) - 65_557))
    if at < 0 or at + 22 > len(data):
        return None
    count: int = struct.unpack_from("<H", data, at + 10)[0]
    locator = at - 20
    if count == 0xFFFF and locator >= 0 and data[locator : locator + 4] == _ZIP64_LOCATOR:
        offset: int = struct.unpack_from("<Q", data, locator + 8)[0]
        if offset + 40 <= len(data) and data[offset : offset + 4] == _ZIP64_EOCD:
            total: int = struct.unpack_from("<Q", data, offset + 32)[0]
            return total
    return count


class SafeZip:
    """A zip checked entry by entry before anything is decompressed (see the module).
    ``infos`` maps each file's normalised path to its entry (folders are left out)."""

    def __init__(self, data: bytes, limits: ArchiveLimits = ArchiveLimits()) -> None:
        self.limits = limits
        declared = declared_entries(data)
        if declared is not None and declared > limits.max_entries:
            raise ArchiveRefused(
                f"the zip has {declared} entries; at most {limits.max_entries} are allowed"
            )
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            entries = self.zip.infolist()
        except ZIP_ERRORS as exc:
            raise ArchiveRefused(f"not a readable zip file: {exc}") from exc
        if len(entries) > limits.max_entries:
            raise ArchiveRefused(
                f"the zip has {len(entries)} entries; at most {limits.max_entries} are allowed"
            )
        self.infos: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in entries:
            path = safe_entry_name(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ArchiveRefused(
                    f"unsafe path in the zip: {info.filename[:200]!r} is a symbolic link"
                )
            if info.is_dir() or not path:
                continue
            if info.flag_bits & 0x1:
                raise ArchiveRefused(f"the zip entry {path!r} is encrypted")
            if info.file_size > limits.max_entry_bytes:
                raise ArchiveRefused(
                    f"the zip entry {path!r} is larger than {limits.max_entry_bytes} bytes"
                )
            total += info.file_size
            if total > limits.max_total_uncompressed:
                raise ArchiveRefused(
                    f"the zip uncompresses to more than {limits.max_total_uncompressed} bytes"
                )
            if info.file_size > limits.ratio_min_bytes and (
                info.file_size / max(info.compress_size, 1) > limits.max_ratio
            ):
                raise ArchiveRefused(
                    f"the zip entry {path!r} has a compression ratio above "
                    f"{limits.max_ratio:g} (a zip bomb?)"
                )
            if path in self.infos:
                raise ArchiveRefused(f"the zip holds {path!r} twice")
            self.infos[path] = info

    def size(self, path: str) -> int:
        return self.infos[path].file_size

    def read(self, path: str) -> bytes:
        """The bytes of one entry: never more than its header declares (a header that lies is
        refused, not believed)."""
        info = self.infos[path]
        try:
            with self.zip.open(info) as stream:
                # zipfile stops at the declared size; the cap makes that our rule, not theirs.
                data = stream.read(info.file_size + 1)
        except ZIP_ERRORS as exc:
            raise ArchiveRefused(f"the zip entry {path!r} cannot be read: {exc}") from exc
        if len(data) != info.file_size:
            raise ArchiveRefused(f"the zip entry {path!r} is not the size its header declares")
        return data
