"""A running supportbot (real ASGI app over HTTP) against the fake Slack and a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.engine.transformers_engine import TransformersEngine
from tests.support.running_bot import RunningBot, run_bot
from tests.support.scripted_checkpoint import WORDS_SCRIPT, build_scripted_checkpoint
from tests.support.serve_process import serve_settings

ServeSettings = Callable[[str, str, str], dict[str, str]]


@pytest.fixture(scope="module")
def running_bot(tiny_engine: TransformersEngine, redis_url: str) -> Iterator[RunningBot]:
    with run_bot(tiny_engine, redis_url) as bot:
        yield bot


@pytest.fixture
def settings_for_serve(tiny_checkpoint: Path, redis_url: str, redis_prefix: str) -> ServeSettings:
    """`(slack_url, token, secret) -> settings` for a served bot on this Redis and model."""

    def settings(slack_url: str, token: str, secret: str) -> dict[str, str]:
        return serve_settings(
            slack_url=slack_url,
            token=token,
            secret=secret,
            redis_url=redis_url,
            redis_prefix=redis_prefix,
            model=tiny_checkpoint,
        )

    return settings


@pytest.fixture(scope="session")
def words_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersEngine]:
    """The real engine on a scripted checkpoint whose answer is plain words (WORDS_SCRIPT)."""
    checkpoint = build_scripted_checkpoint(tmp_path_factory.mktemp("words"), WORDS_SCRIPT)
    engine = TransformersEngine(str(checkpoint), device="cpu", max_new_tokens=40)
    asyncio.run(engine.start())
    yield engine
    asyncio.run(engine.close())
