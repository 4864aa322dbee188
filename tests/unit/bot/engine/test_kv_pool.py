"""One key/value pool, reserved at start-up and never reallocated while serving.

A prompt past the first 1,024 columns and a 1920x1080 screenshot (over a
thousand image tokens) used to grow the decode cache mid-serving, which moved
its buffers and threw every captured graph away. Here the pool's buffers keep
their addresses through both, and the tokens stay those of a plain greedy
`generate()`.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import torch
from PIL import Image

from bot.engine import ChatMessage, GenerationRequest, ImagePart, Role, TextPart
from bot.engine.slot_cache import (
    COLUMN_STEP,
    SlotCache,
    StepShape,
    pool_columns,
    width_for,
    widths_up_to,
)
from bot.engine.step_graphs import Replay, StepGraphs
from bot.engine.transformers_engine import TransformersEngine
from tests.support.engine_requests import fixed_length_request
from tests.support.screenshots import render_error_screenshot
from tests.support.tiny_checkpoint import build_tiny_checkpoint

pytestmark = pytest.mark.slow

ANSWER = 6


LOG = " ".join(f"line {n}: ImportError in module_{n % 17}" for n in range(160))


def _long_text_request() -> GenerationRequest:
    return GenerationRequest(
        messages=(ChatMessage(Role.USER, (TextPart(LOG),)),), max_new_tokens=ANSWER
    )


def _screenshot_request() -> GenerationRequest:
    shot = render_error_screenshot(size=(1920, 1080))
    parts = (ImagePart(shot), TextPart("what broke?"))
    return GenerationRequest(messages=(ChatMessage(Role.USER, parts),), max_new_tokens=ANSWER)


async def _text(engine: TransformersEngine, request: GenerationRequest) -> str:
    return "".join([p async for p in engine.stream(request) if isinstance(p, str)])


def _generated(engine: TransformersEngine, request: GenerationRequest) -> str:
    """The usual Hugging Face snippet: processor, then greedy `generate()`."""
    processor, model = engine._processor, engine._model
    images = [Image.open(io.BytesIO(image.data)).convert("RGB") for image in request.images] or None
    size = dict(processor.image_processor.size)
    size["longest_edge"] = min(size["longest_edge"], engine.config.max_image_pixels)
    inputs = processor(text=[engine.render(request)], images=images, size=size, return_tensors="pt")
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=ANSWER, do_sample=False)
    return str(
        processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)[
            0
        ]
    )


@pytest.fixture(scope="module")
def full_size_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint with the production pixel cap: a 1920x1080 shot is ~1,280 tokens."""
    return build_tiny_checkpoint(
        tmp_path_factory.mktemp("tiny-full-images"), max_pixels=1280 * 1024
    )


@pytest.fixture
async def engine(full_size_images: Path) -> AsyncIterator[TransformersEngine]:
    engine = TransformersEngine(str(full_size_images), device="cpu", max_batch=4)
    await engine.start()
    assert engine.failure is None, engine.failure
    yield engine
    await engine.close()


def _addresses(pool: SlotCache) -> list[int]:
    assert pool.inputs is not None
    return [buffer.data_ptr() for buffer in pool.buffers()] + [pool.inputs.staged_for(1).data_ptr()]


async def test_long_prompts_and_a_big_screenshot_never_move_the_pool(
    engine: TransformersEngine,
) -> None:
    pool = engine.kv_pool
    assert pool is not None and pool.fixed
    before, generation, nbytes = _addresses(pool), pool.generation, pool.nbytes()
    assert pool.slots == 4 and pool.columns > 4096  # the tiny model's whole window, reserved

    text, shot = _long_text_request(), _screenshot_request()
    assert engine.count_tokens(text) > COLUMN_STEP
    assert engine.count_tokens(shot) > COLUMN_STEP
    running = engine.stream(fixed_length_request("why does the build fail?", 40))
    first = await anext(running)  # joiners enter beside a running answer
    rest = asyncio.create_task(_collect(running))
    answers = await asyncio.gather(_text(engine, text), _text(engine, shot))
    assert str(first) + await rest

    assert _addresses(pool) == before and pool.generation == generation
    assert pool.nbytes() == nbytes == engine.cache_bytes().decode
    assert list(answers) == [_generated(engine, text), _generated(engine, shot)]


async def _collect(stream: AsyncIterator[object]) -> str:
    return "".join([p async for p in stream if isinstance(p, str)])


def test_the_pool_takes_the_budget_or_the_window_whichever_is_smaller() -> None:
    assert pool_columns(budget_bytes=10**12, slots=32, bytes_per_column=256, needed=4097) == 5120
    assert pool_columns(budget_bytes=32 * 256 * 2500, slots=32, bytes_per_column=256, needed=9000)
    assert (
        pool_columns(budget_bytes=32 * 256 * 2500, slots=32, bytes_per_column=256, needed=9000)
        == 2048
    )
    with pytest.raises(ValueError, match="KV_CACHE_BYTES"):
        pool_columns(budget_bytes=1000, slots=32, bytes_per_column=256, needed=9000)


def test_widths_are_few_and_read_at_most_twice_the_columns_in_use() -> None:
    assert widths_up_to(5120) == [1024, 2048, 4096, 5120]
    assert width_for(1, 5120) == 1024 and width_for(1025, 5120) == 2048
    assert width_for(4097, 5120) == 5120
    for used in range(1, 5121, 97):
        assert used <= width_for(used, 5120) <= max(2 * used, COLUMN_STEP)


def test_a_reserved_pool_refuses_to_grow_or_be_released() -> None:
    pool = SlotCache(layers=1)
    pool.reserve(torch.zeros((1, 1, 1, 2)), 2, COLUMN_STEP)
    keys = torch.zeros((1, 1, COLUMN_STEP + 5, 2))
    with pytest.raises(RuntimeError, match="key/value pool holds 2 slots"):
        pool.add([(keys, keys)], [COLUMN_STEP + 5])
    with pytest.raises(RuntimeError, match="reserved pool"):
        pool.release()


def test_once_every_shape_is_captured_up_front_serving_captures_nothing() -> None:
    made: list[StepShape] = []

    def capture(shape: StepShape) -> Replay:
        made.append(shape)
        return lambda: torch.full((1,), float(shape.bucket))

    graphs = StepGraphs(capture)
    graphs.capture_all([StepShape(1, COLUMN_STEP), StepShape(2, 2 * COLUMN_STEP)], generation=0)
    assert made == [StepShape(2, 2 * COLUMN_STEP), StepShape(1, COLUMN_STEP)]  # largest first
    replayed = graphs.replay(StepShape(1, COLUMN_STEP), 0)
    assert replayed is not None and replayed.item() == 1.0
    assert graphs.replay(StepShape(4, COLUMN_STEP), 0) is None  # the caller runs it eagerly
    assert graphs.captures == 2 and len(made) == 2
