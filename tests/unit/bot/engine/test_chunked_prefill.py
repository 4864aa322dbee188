"""Chunked prefill: a screenshot joining running answers is prefilled in pieces, same tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.engine import ChatMessage, GenerationRequest, Role, TextPart
from bot.engine.transformers_engine import TransformersEngine
from tests.support.engine_requests import fixed_length_request

pytestmark = pytest.mark.slow

RUNNING = fixed_length_request("why does the build fail?", 160)
CHUNK = 16  # tokens; a tiny-checkpoint screenshot is a few dozen, so it spans chunks


async def _text(engine: TransformersEngine, request: GenerationRequest) -> str:
    return "".join([p async for p in engine.stream(request) if isinstance(p, str)])


async def _joining_while_one_runs(
    engine: TransformersEngine, joiner: GenerationRequest
) -> tuple[str, str]:
    """`joiner`'s answer, sent once a long answer is decoding; and the long answer."""
    runner = engine.stream(RUNNING)
    first = await anext(runner)
    rest = asyncio.create_task(_collect(runner))
    joined = await _text(engine, joiner)
    return joined, str(first) + await rest


async def _collect(stream: AsyncIterator[object]) -> str:
    return "".join([p async for p in stream if isinstance(p, str)])


@pytest.fixture
async def chunked(tiny_checkpoint: Path) -> AsyncIterator[TransformersEngine]:
    chunks: list[float] = []
    engine = TransformersEngine(
        str(tiny_checkpoint),
        device="cpu",
        prefill_chunk_tokens=CHUNK,
        observe=lambda name, value: (
            chunks.append(value) if name == "supportbot_engine_prefill_chunk_tokens" else None
        ),
    )
    engine.chunks = chunks  # type: ignore[attr-defined]
    await engine.start()
    yield engine
    await engine.close()


@pytest.mark.parametrize("size", [(1280, 800), (300, 700)], ids=["wide", "tall"])
async def test_a_screenshot_prefilled_in_chunks_answers_as_in_one_pass(
    chunked: TransformersEngine, tiny_engine: TransformersEngine, size: tuple[int, int]
) -> None:
    joiner = fixed_length_request("what is this?", 12, size=size)
    prompt = chunked.prepare(joiner)
    prompt_tokens = len(prompt)
    assert prompt_tokens > 2 * CHUNK  # at least three chunks
    (start, end), *_ = prompt.image_spans
    assert start // CHUNK < (end - 1) // CHUNK  # the screenshot is split between chunks

    joined, running = await _joining_while_one_runs(chunked, joiner)

    chunks: list[float] = chunked.chunks  # type: ignore[attr-defined]
    assert sum(chunks) == prompt_tokens and max(chunks) == CHUNK  # it really went in chunks
    assert joined == await _text(tiny_engine, joiner)  # one pass, nothing else running
    assert running == await _text(
        tiny_engine, fixed_length_request("why does the build fail?", 160)
    )


async def test_a_follow_up_with_a_cached_prefix_is_chunked_after_the_prefix(
    chunked: TransformersEngine, tiny_engine: TransformersEngine
) -> None:
    first = fixed_length_request("what is this?", 8, size=(640, 400))
    first = GenerationRequest(
        messages=first.messages, max_new_tokens=8, min_new_tokens=8, reuse_key="T1"
    )
    answer = await _text(chunked, first)
    long_reply = "still failing after pip install, the log says permission denied " * 6
    follow_up = GenerationRequest(
        messages=(
            *first.messages,
            ChatMessage(Role.ASSISTANT, (TextPart(answer),)),
            ChatMessage(Role.USER, (TextPart(long_reply),)),
        ),
        max_new_tokens=8,
        min_new_tokens=8,
        reuse_key="T1",
    )
    joined, _ = await _joining_while_one_runs(chunked, follow_up)

    assert chunked.prefixes.hits == 1
    chunks: list[float] = chunked.chunks  # type: ignore[attr-defined]
    new_tokens = len(chunked.prepare(follow_up)) - chunked.prefixes.reused_tokens
    assert sum(chunks) == new_tokens and len(chunks) >= 2
    assert joined == await _text(tiny_engine, follow_up)
