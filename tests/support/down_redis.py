"""Redis down, as the bot meets it: its own client pointed at a local port nothing listens on."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.stores.factory import redis_client
from tests.support.servers import free_port


def down_redis() -> Redis:
    """The client `REDIS_URL` would give, with its timeouts and retries, refused on connect."""
    return redis_client(f"redis://127.0.0.1:{free_port()}/0")
