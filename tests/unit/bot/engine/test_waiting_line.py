"""The engine's waiting line on the real tiny model: position, backpressure and deadlines.

The batch holds one request here, so every other request has to wait in line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.engine import ChatMessage, GenerationRequest, Queued, Role, TextPart
from bot.engine.transformers_engine import TransformersEngine
from bot.errors import EngineBusy, GenerationTimeout, QueueTimeout
from tests.support.slow_model import slowed

pytestmark = pytest.mark.slow


def _request(
    max_new_tokens: int,
    *,
    queue_timeout: float | None = None,
    generation_timeout: float | None = None,
) -> GenerationRequest:
    return GenerationRequest(
        messages=(ChatMessage(Role.USER, (TextPart("why does it fail?"),)),),
        max_new_tokens=max_new_tokens,
        queue_timeout=queue_timeout,
        generation_timeout=generation_timeout,
    )


@pytest.fixture
async def engine(tiny_checkpoint: Path) -> AsyncIterator[TransformersEngine]:
    engine = TransformersEngine(str(tiny_checkpoint), device="cpu", max_waiting=2, max_batch=1)
    await engine.start()
    yield engine
    await engine.close()


async def _collect(engine: TransformersEngine, request: GenerationRequest) -> list[str | Queued]:
    return [item async for item in engine.stream(request)]


async def _answering(
    engine: TransformersEngine, request: GenerationRequest
) -> asyncio.Task[list[str | Queued]]:
    """Start `request` and return once its first words are out, so it holds the batch."""
    answering = asyncio.Event()

    async def consume() -> list[str | Queued]:
        items: list[str | Queued] = []
        async for item in engine.stream(request):
            items.append(item)
            answering.set()
        return items

    task = asyncio.create_task(consume())
    await asyncio.wait_for(answering.wait(), timeout=30)
    return task


async def _until_depth(engine: TransformersEngine, depth: int) -> None:
    while engine.queue_depth != depth:
        await asyncio.sleep(0.001)


async def test_second_request_is_told_its_place_then_answered(engine: TransformersEngine) -> None:
    first = await _answering(engine, _request(400))
    second = await _collect(engine, _request(4))
    assert second[0] == Queued(ahead=1)
    assert all(isinstance(item, str) for item in second[1:]) and len(second) > 1
    assert not any(isinstance(item, Queued) for item in await first)


async def test_a_full_line_answers_busy_with_a_retry_estimate(engine: TransformersEngine) -> None:
    running = await _answering(engine, _request(400))
    waiting = asyncio.create_task(_collect(engine, _request(4)))
    await asyncio.wait_for(_until_depth(engine, 2), timeout=30)
    with pytest.raises(EngineBusy) as busy:
        await _collect(engine, _request(4))
    assert busy.value.retry_after >= 1
    await asyncio.gather(running, waiting)


async def test_waiting_past_the_queue_deadline_raises_and_leaves_the_line(
    engine: TransformersEngine,
) -> None:
    running = await _answering(engine, _request(400))
    with pytest.raises(QueueTimeout):
        await _collect(engine, _request(4, queue_timeout=0.01))
    await running
    assert engine.queue_depth == 0


async def test_generation_past_its_deadline_is_stopped_and_the_model_freed(
    engine: TransformersEngine,
) -> None:
    with pytest.raises(GenerationTimeout):
        await _collect(engine, _request(5000, generation_timeout=0.2))
    after = await _collect(engine, _request(3, queue_timeout=30))
    assert after and all(isinstance(item, str) for item in after)


async def test_the_engine_reports_wait_first_token_and_speed(tiny_checkpoint: Path) -> None:
    seen: dict[str, float] = {}
    engine = TransformersEngine(
        str(tiny_checkpoint),
        device="cpu",
        observe=lambda name, value: seen.__setitem__(name, value),
    )
    await engine.start()
    try:
        await _collect(engine, _request(8))
    finally:
        await engine.close()
    assert set(seen) == {
        "supportbot_engine_queue_wait_seconds",
        "supportbot_engine_ttft_seconds",
        "supportbot_engine_tokens_per_second",
        "supportbot_engine_batch_size",
    }
    assert seen["supportbot_engine_batch_size"] == 1  # alone in the batch
    assert seen["supportbot_engine_tokens_per_second"] > 0
    assert engine.queue_depth == 0


async def test_a_request_being_prefilled_still_counts_in_the_line(
    engine: TransformersEngine,
) -> None:
    with slowed(engine._model, 0.2):  # the prefill takes a while, as a long prompt's does
        task = asyncio.create_task(_collect(engine, _request(3)))
        await _until_depth(engine, 1)
        depths = []
        while not task.done():
            depths.append(engine.queue_depth)
            await asyncio.sleep(0.005)
    assert len(depths) > 20 and min(depths) == 1  # admitted and prefilling is not gone
    assert engine.queue_depth == 0
