"""The encoder cache: a screenshot seen again is not encoded again, and answers stay the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import torch

from bot.engine import GenerationRequest
from bot.engine.encoder_cache import EncoderCache, Encoding
from bot.engine.transformers_engine import TransformersEngine
from tests.support.engine_requests import fixed_length_request
from tests.support.observed_engine import start_observed_engine


def _encoding(tokens: int) -> Encoding:
    return Encoding(torch.zeros(tokens, 4), (torch.zeros(tokens, 4), torch.zeros(tokens, 4)))


def test_the_least_recently_used_encoding_leaves_first_within_the_byte_budget() -> None:
    one = _encoding(2).nbytes  # 3 tensors x 2 x 4 floats = 96 bytes
    cache = EncoderCache(capacity_bytes=2 * one)
    cache.put("a", _encoding(2))
    cache.put("b", _encoding(2))
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put("c", _encoding(2))

    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    assert cache.nbytes == 2 * one and len(cache) == 2


def test_an_encoding_larger_than_the_budget_is_not_kept_and_nothing_is_dropped_for_it() -> None:
    cache = EncoderCache(capacity_bytes=_encoding(2).nbytes)
    cache.put("small", _encoding(2))
    cache.put("big", _encoding(3))

    assert cache.get("big") is None and cache.get("small") is not None


def test_putting_the_same_digest_again_replaces_it_without_counting_it_twice() -> None:
    cache = EncoderCache(capacity_bytes=10_000)
    cache.put("a", _encoding(2))
    cache.put("a", _encoding(3))

    assert cache.nbytes == _encoding(3).nbytes and len(cache) == 1


def test_a_cache_of_no_bytes_keeps_nothing() -> None:
    cache = EncoderCache(capacity_bytes=0)
    cache.put("a", _encoding(1))
    assert cache.get("a") is None and len(cache) == 0


async def _text(engine: TransformersEngine, request: GenerationRequest) -> str:
    return "".join([p async for p in engine.stream(request) if isinstance(p, str)])


async def _engine(checkpoint: Path, **overrides: Any) -> TransformersEngine:
    reused, chunks = REUSED, "supportbot_engine_prefill_chunk_tokens"
    engine, seen, _ = await start_observed_engine(checkpoint, [reused, chunks], **overrides)
    encoder_calls: list[int] = []
    engine._model.model.visual.register_forward_hook(lambda *_: encoder_calls.append(1))
    engine.reused = seen[reused]  # type: ignore[attr-defined]
    engine.chunks = seen[chunks]  # type: ignore[attr-defined]
    engine.encoder_calls = encoder_calls  # type: ignore[attr-defined]
    return engine


REUSED = "supportbot_engine_reused_image_encodings"


@pytest.fixture
async def engines(tiny_checkpoint: Path) -> AsyncIterator[tuple[TransformersEngine, ...]]:
    cached = await _engine(tiny_checkpoint, prefill_chunk_tokens=16)
    uncached = await _engine(tiny_checkpoint, encoder_cache_bytes=0)
    yield cached, uncached
    await cached.close()
    await uncached.close()


@pytest.mark.slow
async def test_the_same_screenshot_twice_is_encoded_once_with_the_same_answer(
    engines: tuple[TransformersEngine, TransformersEngine],
) -> None:
    cached, uncached = engines
    first = fixed_length_request("what is this?", 10, size=(640, 400))
    again = fixed_length_request("and how do I fix it?", 10, size=(640, 400))  # same image

    answers = [await _text(cached, first), await _text(cached, again)]

    assert cached.encoder_calls == [1]  # type: ignore[attr-defined]
    assert cached.reused == [0, 1]  # type: ignore[attr-defined]
    assert answers == [await _text(uncached, first), await _text(uncached, again)]
    assert uncached.encoder_calls == [1, 1]  # type: ignore[attr-defined]


@pytest.mark.slow
async def test_a_joiner_whose_screenshot_was_seen_takes_its_encoding_from_the_cache(
    engines: tuple[TransformersEngine, TransformersEngine],
) -> None:
    cached, uncached = engines
    seen = fixed_length_request("what is this?", 6, size=(900, 500))
    await _text(cached, seen)
    running = cached.stream(fixed_length_request("why does the build fail?", 120))
    await anext(running)  # an answer is decoding: the joiner goes in chunks
    rest = asyncio.create_task(_text_of(running))
    joiner = fixed_length_request("is it the proxy?", 8, size=(900, 500))
    joined = await _text(cached, joiner)
    await rest

    assert cached.chunks  # type: ignore[attr-defined]  # it joined in chunks
    assert cached.encoder_calls == [1]  # type: ignore[attr-defined]
    assert cached.reused == [0, 1]  # type: ignore[attr-defined]
    assert joined == await _text(uncached, joiner)


@pytest.mark.slow
async def test_a_different_screenshot_is_encoded(
    engines: tuple[TransformersEngine, TransformersEngine],
) -> None:
    cached, _ = engines
    await _text(cached, fixed_length_request("what is this?", 4, size=(640, 400)))
    await _text(cached, fixed_length_request("what is this?", 4, size=(400, 640)))

    assert cached.encoder_calls == [1, 1]  # type: ignore[attr-defined]
    assert cached.reused == [0, 0]  # type: ignore[attr-defined]


async def _text_of(stream: AsyncIterator[object]) -> str:
    return "".join([p async for p in stream if isinstance(p, str)])
