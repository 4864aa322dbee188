"""Dynamic batching on the real tiny model: same answers as alone, early leavers, limits, OOM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import torch

from bot.engine import GenerationRequest, Queued
from bot.engine.transformers_engine import TransformersEngine
from bot.errors import GenerationFailed
from tests.support.engine_requests import fixed_length_request

pytestmark = pytest.mark.slow

# Long enough for every request of a burst to be prepared on a loaded machine; the
# window ends as soon as none in line is still being prepared, so it costs nothing.
WINDOW = 5.0

QUESTIONS = ["what is this?", "why does the build fail?", "how do I fix it?", "is it the proxy?"]


async def _text(engine: TransformersEngine, request: GenerationRequest) -> str:
    return "".join([p async for p in engine.stream(request) if isinstance(p, str)])


@pytest.fixture
async def engine(tiny_checkpoint: Path) -> AsyncIterator[TransformersEngine]:
    sizes: list[float] = []
    engine = TransformersEngine(
        str(tiny_checkpoint),
        device="cpu",
        max_batch=8,
        batch_window_seconds=WINDOW,
        observe=lambda name, value: (
            sizes.append(value) if name == "supportbot_engine_batch_size" else None
        ),
    )
    engine.batch_sizes = sizes  # type: ignore[attr-defined]
    await engine.start()
    yield engine
    await engine.close()


async def test_requests_decode_together_and_each_gets_its_own_greedy_answer(
    engine: TransformersEngine,
) -> None:
    # screenshots of different sizes, and a question without one, in one batch
    requests = [
        fixed_length_request(QUESTIONS[0], 12, size=(640, 400)),
        fixed_length_request(QUESTIONS[1], 12, size=(1280, 800)),
        fixed_length_request(QUESTIONS[2], 12),
        fixed_length_request(QUESTIONS[3], 12, size=(300, 700)),
    ]
    together = await asyncio.gather(*(_text(engine, r) for r in requests))
    assert max(engine.batch_sizes) == 4  # type: ignore[attr-defined]

    alone = [await _text(engine, r) for r in requests]
    assert together == alone
    assert len(set(together)) == 4 and all(together)


async def test_a_short_answer_leaves_the_batch_without_waiting_for_a_long_one(
    engine: TransformersEngine,
) -> None:
    long = asyncio.create_task(_text(engine, fixed_length_request(QUESTIONS[0], 400)))
    await asyncio.sleep(0.01)
    short = await _text(engine, fixed_length_request(QUESTIONS[1], 3))
    assert short
    assert not long.done()
    assert engine.queue_depth == 1
    await long


async def test_closing_one_stream_leaves_the_others_running(engine: TransformersEngine) -> None:
    kept = asyncio.create_task(_text(engine, fixed_length_request(QUESTIONS[0], 30)))
    dropped = engine.stream(fixed_length_request(QUESTIONS[1], 400))
    assert isinstance(dropped, AsyncGenerator)
    await anext(dropped)
    await dropped.aclose()
    expected = await _text(engine, fixed_length_request(QUESTIONS[0], 30))
    assert await kept == expected


async def test_the_token_budget_keeps_a_request_waiting_until_there_is_room(
    tiny_checkpoint: Path,
) -> None:
    engine = TransformersEngine(str(tiny_checkpoint), device="cpu", batch_token_budget=500)
    await engine.start()
    try:
        running = asyncio.create_task(_text(engine, fixed_length_request(QUESTIONS[0], 300)))
        await asyncio.sleep(0.05)
        items = [item async for item in engine.stream(fixed_length_request(QUESTIONS[1], 300))]
        assert items[0] == Queued(ahead=1)
        assert running.done()  # it only started once the first had left
    finally:
        await engine.close()


def _fail_batches_over(model: Any, rows: int) -> Any:
    """Make the model run out of memory for batches of more than `rows` rows.

    Prefill and decode steps both end in the output head (a decode step over
    fused weights never enters the language model's own forward), with the
    batch's rows first.
    """

    def check(module: Any, args: Any) -> None:
        if args[0].shape[0] > rows:
            raise torch.cuda.OutOfMemoryError(f"simulated: more than {rows} rows")

    return model.get_output_embeddings().register_forward_pre_hook(check)


async def test_out_of_memory_splits_the_batch_and_loses_no_request(
    tiny_checkpoint: Path,
) -> None:
    engine = TransformersEngine(
        str(tiny_checkpoint), device="cpu", max_batch=4, batch_window_seconds=WINDOW
    )
    await engine.start()
    try:
        requests = [fixed_length_request(q, 10, size=(640, 400)) for q in QUESTIONS]
        alone = [await _text(engine, r) for r in requests]
        hook = _fail_batches_over(engine._model, 2)
        together = await asyncio.gather(*(_text(engine, r) for r in requests))
        hook.remove()
        assert together == alone
        assert engine.batch_limit == 2
    finally:
        await engine.close()


async def test_a_request_that_never_fits_gets_a_clear_error_and_the_engine_goes_on(
    tiny_checkpoint: Path,
) -> None:
    engine = TransformersEngine(str(tiny_checkpoint), device="cpu")
    await engine.start()
    try:
        hook = _fail_batches_over(engine._model, 0)
        with pytest.raises(GenerationFailed, match="out of GPU memory"):
            await _text(engine, fixed_length_request(QUESTIONS[0], 5))
        hook.remove()
        assert await _text(engine, fixed_length_request(QUESTIONS[0], 5))
    finally:
        await engine.close()
