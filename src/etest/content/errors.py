"""Errors of content imports (each a stable problem type).

Hierarchy::

    BadRequest (400)
    ├── QtiPackageError             bad-qti-package: the whole QTI input is refused
    └── QtiUnknownLevel             unknown-level: the ``level`` argument of a QTI import
    Unprocessable (422)
    └── ContentInvalid              invalid-content: nothing was imported (``errors`` lists why)
"""

from __future__ import annotations

from etest.errors import BadRequest, Unprocessable


class QtiPackageError(BadRequest):
    """The input as a whole cannot be read as QTI (not a zip or XML, unsafe or oversized zip,
    missing or invalid manifest). Items that merely cannot be imported are reported instead."""

    code = "bad-qti-package"
    title = "Bad QTI package"


class QtiUnknownLevel(BadRequest):
    """The ``level`` given to a QTI import is not a level (a 400 like the rest of a refused
    input, not the 422 of :class:`etest.errors.UnknownLevel`)."""

    code = "unknown-level"


class ContentInvalid(Unprocessable):
    """Nothing was imported: ``errors`` lists each problem with its file and JSON path."""

    code = "invalid-content"
    title = "Invalid content"
