"""Fixtures for unit tests that talk to the session's private Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis


@pytest.fixture
async def redis(redis_url: str, redis_prefix: str) -> AsyncIterator[Redis]:
    """A client of the test Redis; every key under this test's prefix is deleted afterwards."""
    client = Redis.from_url(redis_url)
    yield client
    keys = [key async for key in client.scan_iter(f"{redis_prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
