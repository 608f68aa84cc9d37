"""The residency scheduler's API: residents stored in Postgres, their list cached in Redis, and
the seed's /health endpoint, which checks both.

Runs on FastAPI 0.92 to 0.115, SQLAlchemy 1.4 or 2.0, pydantic 1 or 2 and redis-py 4.2 or
later: Debian bookworm's packages (the offline images) and requirements.txt (a registry).
"""

import asyncio
import hashlib
import hmac
import json
import logging
import os

import redis.asyncio as aioredis
from fastapi import FastAPI, HTTPException, Response
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app import settings

log = logging.getLogger("residency")
logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper())

app = FastAPI(title="Residency Scheduler")

config = settings.load()
engine = create_async_engine(config.database_url, pool_pre_ping=True)
cache = aioredis.from_url(config.redis_url, socket_timeout=2, socket_connect_timeout=2)

LIST_KEY = "residents:list"
LIST_TTL_SECONDS = 30
CHECK_TIMEOUT_SECONDS = 3


class ResidentIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=200)
    pgy_level: int = Field(1, ge=1, le=7)


@app.on_event("startup")
async def create_schema() -> None:
    # The database is healthy before this container starts (depends-on condition="healthy"),
    # but a reload or a restart of the database can still race: try for a while.
    for attempt in range(30):
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "CREATE TABLE IF NOT EXISTS residents ("
                        " id serial PRIMARY KEY,"
                        " name text NOT NULL,"
                        " pgy_level integer NOT NULL DEFAULT 1,"
                        " created_at timestamptz NOT NULL DEFAULT now())"
                    )
                )
            return
        except Exception as e:  # noqa: BLE001: any failure to connect is retried
            log.warning("database not ready (attempt %d): %s", attempt + 1, e)
            await asyncio.sleep(1)
    raise RuntimeError("the database did not answer in 30 s")


@app.on_event("shutdown")
async def close() -> None:
    await engine.dispose()
    await cache.close()


async def check_database() -> str:
    try:
        async with engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), CHECK_TIMEOUT_SECONDS)
        return "healthy"
    except Exception as e:  # noqa: BLE001: the check reports every failure
        return f"unhealthy: {type(e).__name__}: {e}"


async def check_redis() -> str:
    try:
        await asyncio.wait_for(cache.ping(), CHECK_TIMEOUT_SECONDS)
        return "healthy"
    except Exception as e:  # noqa: BLE001: the check reports every failure
        return f"unhealthy: {type(e).__name__}: {e}"


@app.get("/health")
async def health(response: Response) -> dict:
    """The seed's health check: the database with SELECT 1, Redis with PING. Answers 503 when
    either fails, so that a health probe of the status code sees it."""
    database, redis_state = await asyncio.gather(check_database(), check_redis())
    checks = {"database": database, "redis": redis_state}
    healthy = all(v == "healthy" for v in checks.values())
    if not healthy:
        response.status_code = 503
    return {"status": "healthy" if healthy else "unhealthy", "checks": checks}


@app.get("/")
async def root() -> dict:
    return {"service": "residency-scheduler", "docs": "/docs"}


def signature(body: bytes) -> str:
    return hmac.new(config.secret_key, body, hashlib.sha256).hexdigest()[:32]


@app.get("/residents")
async def list_residents() -> Response:
    """Every resident, oldest first. Served from Redis when cached; the cache is dropped on
    every change. Works on without Redis, only slower."""
    body = None
    try:
        body = await cache.get(LIST_KEY)
    except Exception as e:  # noqa: BLE001: the cache is optional
        log.warning("redis get failed: %s", e)
    source = "cache"
    if body is None:
        source = "database"
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT id, name, pgy_level, created_at FROM residents ORDER BY id"
                )
            )
            residents = [
                {
                    "id": r["id"],
                    "name": r["name"],
                    "pgy_level": r["pgy_level"],
                    "created_at": r["created_at"].isoformat(),
                }
                for r in rows.mappings()
            ]
        body = json.dumps(residents).encode()
        try:
            await cache.set(LIST_KEY, body, ex=LIST_TTL_SECONDS)
        except Exception as e:  # noqa: BLE001: the cache is optional
            log.warning("redis set failed: %s", e)
    return Response(
        content=body,
        media_type="application/json",
        headers={"ETag": f'"{signature(body)}"', "X-Served-From": source},
    )


@app.post("/residents", status_code=201)
async def create_resident(resident: ResidentIn) -> dict:
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                text(
                    "INSERT INTO residents (name, pgy_level) VALUES (:name, :pgy)"
                    " RETURNING id, name, pgy_level, created_at"
                ),
                {"name": resident.name, "pgy": resident.pgy_level},
            )
        ).mappings().one()
    try:
        await cache.delete(LIST_KEY)
    except Exception as e:  # noqa: BLE001: a stale cache expires on its own
        log.warning("redis delete failed: %s", e)
    return {
        "id": row["id"],
        "name": row["name"],
        "pgy_level": row["pgy_level"],
        "created_at": row["created_at"].isoformat(),
    }


@app.get("/residents/{resident_id}")
async def get_resident(resident_id: int) -> dict:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT id, name, pgy_level, created_at FROM residents WHERE id = :id"),
                {"id": resident_id},
            )
        ).mappings().first()
    if row is None:
        raise HTTPException(status_code=404, detail=f"no resident {resident_id}")
    return {
        "id": row["id"],
        "name": row["name"],
        "pgy_level": row["pgy_level"],
        "created_at": row["created_at"].isoformat(),
    }
