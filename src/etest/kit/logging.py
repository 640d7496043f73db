"""Structured logs (JSON lines to stderr) carrying the request id of asgi-correlation-id.

The id is the one of the ``X-Request-ID`` header (the client's, or a new one), set by
``CorrelationIdMiddleware`` for the whole request: every line logged while it is handled carries
``request_id``, errors included, and so do the lines of an outbox job the request enqueued (the
worker runs the job under the same id, ``etest.outbox.worker``) and its error reports
(``etest.ops.errorreport``).

Lines of the standard library's loggers (uvicorn's own, SQLAlchemy's, alembic's) go through the
same processors, so a log stays one JSON object per line even when uvicorn reports an exception
(a multi-line traceback in plain text would break every line-based log collector) and those
lines carry the request id too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from asgi_correlation_id import correlation_id

#: Loggers that uvicorn configures with handlers of its own: sent to the root handler instead.
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


def _add_request_id(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    request_id = correlation_id.get()
    if request_id:
        event.setdefault("request_id", request_id)
    return event


class _EtestHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler this module installs (told apart from a test runner's)."""


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_request_id,
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _EtestHandler)]
    if ours:
        ours[0].setFormatter(formatter)
    elif not root.handlers:  # a test runner's capture handlers stay as they are
        handler = _EtestHandler(sys.stderr)
        handler.setFormatter(formatter)
        root.addHandler(handler)
        ours = [handler]
    if ours:
        root.setLevel(level.upper())
        for name in _UVICORN:
            uvicorn_logger = logging.getLogger(name)
            uvicorn_logger.handlers.clear()
            uvicorn_logger.propagate = True
    for noisy in ("uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # psycopg's pool logs every failed reconnect as a multi-line warning during an outage; the
    # requests' 503s and /ready already say it, once each
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
