"""A running supportbot (real ASGI app over HTTP) against the fake Slack and a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.engine.transformers_engine import TransformersEngine
from tests.support.running_bot import RunningBot, run_bot


@pytest.fixture(scope="module")
def running_bot(tiny_engine: TransformersEngine, redis_url: str) -> Iterator[RunningBot]:
    with run_bot(tiny_engine, redis_url) as bot:
        yield bot
