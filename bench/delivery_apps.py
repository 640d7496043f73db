"""Reference apps for bench/delivery_load.py, served by uvicorn like eTest.

* ``hello``: one JSON response, no database: what the load driver and uvicorn can do at all.
* ``ceiling``: the least a candidate step can cost with the same stack below the routes
  (Starlette, uvicorn, async SQLAlchemy Core on psycopg 3, the same pool size as eTest): the GET
  reads one item row, the POST inserts one answer row and commits. eTest's step does the same
  work plus its rules, so its throughput is read as a fraction of this one's.

Run by the benchmark as ``uvicorn bench.delivery_apps:hello`` and
``uvicorn --factory bench.delivery_apps:ceiling`` (with ``BENCH_DATABASE_URL`` set).
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

CEILING_TABLE = """CREATE TABLE IF NOT EXISTS bench_ceiling_answers (
    attempt_id uuid NOT NULL, position integer NOT NULL, answer jsonb,
    answered_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (attempt_id, position))"""


async def _hello(_: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


hello = Starlette(routes=[Route("/hello", _hello)])


def ceiling() -> Starlette:
    engine = create_async_engine(
        os.environ["BENCH_DATABASE_URL"], pool_size=10, max_overflow=10, pool_pre_ping=True
    )
    ids: list[uuid.UUID] = []

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with engine.begin() as conn:
            await conn.execute(text(CEILING_TABLE))
            ids.extend((await conn.execute(text("SELECT id FROM items"))).scalars())
        yield
        await engine.dispose()

    async def item(_: Request) -> JSONResponse:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT id, type, prompt, options FROM items WHERE id = :id"),
                    {"id": random.choice(ids)},
                )
            ).one()
        return JSONResponse(
            {"id": str(row.id), "type": row.type, "prompt": row.prompt, "options": row.options}
        )

    async def answer(request: Request) -> JSONResponse:
        body = await request.json()
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO bench_ceiling_answers (attempt_id, position, answer) "
                    "VALUES (:a, :p, CAST(:v AS jsonb))"
                ),
                {"a": uuid.uuid4(), "p": int(body["position"]), "v": json.dumps(body["answer"])},
            )
        return JSONResponse({"accepted": True})

    return Starlette(
        routes=[Route("/item", item), Route("/answer", answer, methods=["POST"])], lifespan=lifespan
    )
