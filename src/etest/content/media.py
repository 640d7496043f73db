"""Media store: audio and images kept by SHA-256 of their bytes, in a folder (``ETEST_MEDIA_DIR``,
default ``var/media``). The database keeps a row per object (type and size); files are written
atomically and never change, so they are served with long cache headers."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath

MAX_MEDIA_BYTES = 20 * 1024 * 1024

#: Extension → content type of everything eTest stores and serves.
CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".opus": "audio/ogg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".m4a": "audio/mp4",
    ".webm": "audio/webm",
}

_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "audio/ogg": (b"OggS",),
    "audio/mpeg": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"),
    "audio/wav": (b"RIFF",),
    "audio/webm": (b"\x1a\x45\xdf\xa3",),
}
_SVG_FORBIDDEN = (
    b"<script",
    b"javascript:",
    b"foreignobject",
    b"<!entity",
    b'xlink:href="http',
    b'href="http',
    b"onload=",
    b"onerror=",
    b"onclick=",
)


def media_problem(name: str, data: bytes) -> str | None:
    """Why these bytes cannot be stored as media named ``name`` (None when they can)."""
    content_type = content_type_of(name)
    if content_type is None:
        return (
            f"unsupported media type {PurePosixPath(name).suffix or name!r}; allowed: "
            f"{', '.join(sorted(CONTENT_TYPES))}"
        )
    if not data:
        return "empty media file"
    if len(data) > MAX_MEDIA_BYTES:
        return f"media file larger than {MAX_MEDIA_BYTES} bytes"
    magic = _MAGIC.get(content_type)
    if magic and not data.startswith(magic):
        return f"content does not look like {content_type}"
    if content_type == "image/webp" and data[8:12] != b"WEBP":
        return "content does not look like image/webp"
    if content_type == "image/svg+xml":
        lowered = data[:200_000].lower()
        if b"<svg" not in lowered:
            return "content does not look like an SVG image"
        if any(bad in lowered for bad in _SVG_FORBIDDEN):
            return "SVG with scripts, entities or external references is refused"
    return None


def content_type_of(name: str) -> str | None:
    return CONTENT_TYPES.get(PurePosixPath(name.lower()).suffix)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class MediaStore:
    """Content-addressed files under ``root/ab/cd/<sha256>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        digest = sha256(data)
        target = self.path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        return digest
