"""Compiled decode steps answer exactly as eager ones; a compiler failure costs only speed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from bot.engine import GenerationRequest
from bot.engine.decode_mode import DecodeMode
from bot.engine.transformers_engine import TransformersEngine
from tests.support.engine_requests import fixed_length_request

pytestmark = pytest.mark.slow


# Different prompt lengths and answer lengths: rows leave one by one, so the
# step's bucket goes 4 -> 2 -> 1 and the slots hold rows of different lengths.
REQUESTS = [
    fixed_length_request("what is this?", 6, size=(640, 400)),
    fixed_length_request("why does the build fail on the runner?", 18, size=(1280, 800)),
    fixed_length_request("how do I fix it?", 11),
    fixed_length_request("is it the proxy?", 3, size=(300, 700)),
]


async def _text(engine: TransformersEngine, request: GenerationRequest) -> str:
    return "".join([p async for p in engine.stream(request) if isinstance(p, str)])


def _started(engine: TransformersEngine) -> TransformersEngine:
    asyncio.run(engine.start())
    assert engine.failure is None, engine.failure
    return engine


@pytest.fixture(scope="module")
def compiled_engine(tiny_checkpoint: Path) -> Iterator[TransformersEngine]:
    engine = _started(
        TransformersEngine(
            str(tiny_checkpoint),
            device="cpu",
            decode_mode="compile",
            max_batch=4,
            batch_window_seconds=0.1,
            compile_budget_seconds=900,  # this test is about tokens, not the start-up bound
        )
    )
    yield engine
    asyncio.run(engine.close())


async def test_compiled_steps_give_the_eager_tokens_for_a_changing_batch(
    compiled_engine: TransformersEngine, tiny_engine: TransformersEngine
) -> None:
    assert tiny_engine.decode_mode is DecodeMode.EAGER  # `auto` on a CPU
    alone = [await _text(tiny_engine, request) for request in REQUESTS]
    together = await asyncio.gather(*(_text(compiled_engine, r) for r in REQUESTS))
    assert together == alone
    assert compiled_engine.decode_mode is DecodeMode.COMPILE  # never fell back to eager


def _fail_under_the_compiler(model: Any) -> Any:
    """A model the compiler cannot trace: its output head raises only while being compiled.

    The head, as every decode step runs it (over fused weights the step never
    enters the language model's own forward).
    """

    def check(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if torch.compiler.is_compiling():
            raise RuntimeError("simulated: this decoder cannot be compiled")

    return model.get_output_embeddings().register_forward_pre_hook(check, with_kwargs=True)


async def test_a_step_that_cannot_compile_falls_back_to_eager_and_still_answers(
    tiny_checkpoint: Path, tiny_engine: TransformersEngine, caplog: pytest.LogCaptureFixture
) -> None:
    torch._dynamo.reset()  # forget graphs compiled by other tests: this decoder must be traced
    model = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint).eval()
    _fail_under_the_compiler(model)
    processor = AutoProcessor.from_pretrained(tiny_checkpoint)
    engine = TransformersEngine.from_loaded(model, processor, device="cpu", decode_mode="compile")
    try:
        assert engine.failure is None
        assert engine.decode_mode is DecodeMode.EAGER
        assert "decoding eagerly from now on" in caplog.text
        assert await _text(engine, REQUESTS[0]) == await _text(tiny_engine, REQUESTS[0])
    finally:
        await engine.close()


def test_cuda_graphs_without_a_gpu_is_a_clear_start_up_failure(tiny_checkpoint: Path) -> None:
    engine = TransformersEngine(str(tiny_checkpoint), device="cpu", decode_mode="cuda-graphs")
    asyncio.run(engine.start())
    assert engine.failure == (
        "DECODE_MODE=cuda-graphs needs a CUDA device; use DECODE_MODE=auto or eager on cpu"
    )
