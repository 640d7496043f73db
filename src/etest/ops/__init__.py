"""Running eTest in production (docs/operations.md): the HTTP edge (size limits), proxy and
security headers, rate limits, metrics, error reporting and the operational routes (``/health``,
``/ready``, ``/metrics``, ``/docs``).

Layering: ``ops`` imports ``config``, ``errors``, ``kit``, ``db`` and its own repository; the
app factory and the CLI import ``ops``; domain packages may import ``ops.ratelimits`` and
``ops.metrics`` (counters), never the other way round.
"""
