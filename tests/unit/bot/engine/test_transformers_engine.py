"""The real engine on the tiny checkpoint: loading, streaming, failure and cancellation."""

from __future__ import annotations

import io
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest
import torch
from PIL import Image

from bot.engine import ChatMessage, EngineState, GenerationRequest, ImagePart, Role, TextPart
from bot.engine.device import resolve_device, resolve_dtype
from bot.engine.transformers_engine import TransformersEngine
from bot.errors import ModelUnavailable
from tests.support.screenshots import render_error_screenshot

pytestmark = pytest.mark.slow


def _request(max_new_tokens: int = 12) -> GenerationRequest:
    return GenerationRequest(
        messages=(
            ChatMessage(Role.SYSTEM, (TextPart("You diagnose errors."),)),
            ChatMessage(
                Role.USER, (ImagePart(render_error_screenshot()), TextPart("what is this?"))
            ),
        ),
        max_new_tokens=max_new_tokens,
    )


def test_prompt_uses_the_processors_own_chat_template(tiny_engine: TransformersEngine) -> None:
    prompt = tiny_engine.render(_request())
    assert prompt.startswith("<|im_start|>system\nYou diagnose errors.<|im_end|>\n")
    assert "<|vision_start|><|image_pad|><|vision_end|>what is this?" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


async def test_stream_yields_the_same_text_as_a_plain_greedy_generate(
    tiny_engine: TransformersEngine,
) -> None:
    streamed = "".join([p async for p in tiny_engine.stream(_request()) if isinstance(p, str)])

    processor, model = (
        tiny_engine._processor,
        tiny_engine._model,
    )  # the reference: the usual HF snippet
    inputs = processor(
        text=[tiny_engine.render(_request())], images=[_decoded()], return_tensors="pt"
    )
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    expected = processor.batch_decode(
        output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True
    )[0]
    assert streamed == expected
    assert streamed


def _decoded() -> Image.Image:
    return Image.open(io.BytesIO(render_error_screenshot())).convert("RGB")


async def test_closing_the_stream_early_cancels_generation(tiny_engine: TransformersEngine) -> None:
    stream = tiny_engine.stream(_request(max_new_tokens=2000))
    assert isinstance(stream, AsyncGenerator)
    first = await anext(stream)
    await stream.aclose()
    assert first
    # the worker is free again: a new request is answered
    assert "".join([p async for p in tiny_engine.stream(_request(4)) if isinstance(p, str)])


async def test_a_model_that_cannot_load_reports_why_and_refuses_requests(tmp_path: Path) -> None:
    engine = TransformersEngine(str(tmp_path / "no-such-model"), device="cpu")
    await engine.start()
    assert engine.state is EngineState.FAILED
    assert engine.failure and "\n" not in engine.failure
    with pytest.raises(ModelUnavailable):
        async for _ in engine.stream(_request()):
            pass
    await engine.close()


def test_auto_device_and_dtype() -> None:
    device = resolve_device("auto")
    assert device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_dtype("auto", "cpu") is torch.float32
    assert resolve_dtype("auto", "cuda") is torch.bfloat16
    assert resolve_dtype("float16", "cuda") is torch.float16


def test_token_count_matches_what_the_processor_feeds_the_model(
    tiny_engine: TransformersEngine,
) -> None:
    request = _request()
    inputs = tiny_engine._processor(
        text=[tiny_engine.render(request)], images=[_decoded()], return_tensors="pt"
    )
    assert tiny_engine.count_tokens(request) == inputs["input_ids"].shape[1]
    assert tiny_engine.context_window == 4096  # the tiny model's own limit
