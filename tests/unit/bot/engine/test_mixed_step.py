"""Mixed steps on the real tiny model: decodes and joiners' prompt chunks in one forward.

Each step here is composed by hand through the runner, so what it holds is
known: a running answer's token beside a joiner's chunk, and chunks of two
joiners in one step, with and without a running answer. Every answer must
be the tokens of a plain greedy `generate()` of the same request. Joiners'
screenshots are encoded one call per image on the CPU, one call for all on
an accelerator; both give the same inputs.
"""

from __future__ import annotations

import io
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from bot.engine import ChatMessage, GenerationRequest, ImagePart, Role, TextPart
from bot.engine.chunked_prefill import ChunkedPrefill, PartialPrefill
from bot.engine.config import EngineConfig
from bot.engine.decode_mode import DecodeMode
from bot.engine.fusion import additive_mask
from bot.engine.mixed_step import grouped_attention
from bot.engine.policy import BatchLimits, BatchPolicy
from bot.engine.prefix_cache import PrefixStore
from bot.engine.preparation import PromptPreparer
from bot.engine.prepared import PreparedPrompt
from bot.engine.runner import ModelRunner
from bot.engine.sampling import TokenChooser
from bot.engine.sequence import Sequence
from tests.support.engine_requests import fixed_length_request
from tests.support.screenshots import render_error_screenshot

pytestmark = pytest.mark.slow

PIXELS = 1280 * 1024


@pytest.fixture(scope="module")
def parts(tiny_checkpoint: Path) -> tuple[Any, Any]:
    model = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint).eval()
    return model, AutoProcessor.from_pretrained(tiny_checkpoint)


def _runner(model: Any) -> ModelRunner:
    runner = ModelRunner(
        model,
        TokenChooser(model.generation_config),
        config=EngineConfig("tiny", device="cpu", max_batch=4, decode_mode=DecodeMode.EAGER),
        prefixes=PrefixStore(0),
        context_window=4096,
        pad_token_id=int(model.generation_config.pad_token_id or 0),
        observe=lambda name, value: None,
    )
    runner.warm_up(4)
    return runner


def _sequence(parts: tuple[Any, Any], request: GenerationRequest) -> Sequence:
    model, processor = parts
    prepared: Future[PreparedPrompt] = Future()
    prepared.set_result(PromptPreparer(model, processor, max_image_pixels=PIXELS).prepare(request))
    tokens = request.max_new_tokens or 0
    sequence = Sequence(
        request, prepared, lambda item: None, max_new_tokens=tokens, min_new_tokens=tokens
    )
    sequence.start()
    return sequence


def _generated(parts: tuple[Any, Any], request: GenerationRequest) -> list[int]:
    """The usual Hugging Face snippet: processor, then greedy `generate()`."""
    model, processor = parts
    images = [Image.open(io.BytesIO(image.data)).convert("RGB") for image in request.images] or None
    size = dict(processor.image_processor.size)
    size["longest_edge"] = min(size["longest_edge"], PIXELS)
    text = PromptPreparer(model, processor, max_image_pixels=PIXELS).render(request)
    inputs = processor(text=[text], images=images, size=size, return_tensors="pt")
    tokens = request.max_new_tokens
    output = model.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
    return [int(token) for token in output[0, inputs["input_ids"].shape[1] :].tolist()]


def _answer(sequence: Sequence) -> list[int]:
    return sequence.tokens[sequence.prompt_length :]


def _mixed_steps(
    runner: ModelRunner,
    running: list[Sequence],
    partials: list[PartialPrefill],
    sizes: Any,
) -> list[int]:
    """Mixed steps until every partial joined, then decode steps to the end; how many
    chunks each mixed step held. The rows in `running` must gain a token every step."""
    held: list[int] = []
    waiting = list(partials)
    while waiting:
        chunks = [(p, n) for p, n in zip(waiting, sizes(waiting), strict=True) if n]
        before = [len(s.tokens) for s in running]
        result = runner.mixed_step(running, chunks)
        joined = [partial.sequence for partial in result.finished]
        at = [s.slot for s in running] + list(range(result.rows, result.rows + len(joined)))
        runner.advance([*running, *joined], result.logits, at=at)
        assert [len(s.tokens) for s in running] == [n + 1 for n in before]
        running = [*running, *joined]
        waiting = [p for p in waiting if p not in result.finished]
        held.append(len(chunks))
    while not all(s.ending for s in running):
        runner.advance(running, runner.step(running), by_slot=True)
    return held


def test_a_running_answer_and_a_joiners_chunks_share_each_step(parts: tuple[Any, Any]) -> None:
    model, _ = parts
    long = fixed_length_request("why does the build fail?", 24)
    joining = fixed_length_request("what is this?", 6, size=(640, 400))
    with torch.inference_mode():
        runner = _runner(model)
        running = _sequence(parts, long)
        runner.advance([running], runner.prefill([running], None))
        joiner = _sequence(parts, joining)
        (partial,) = runner.begin_chunked([(joiner, None)])
        assert partial.remaining > 30  # so it takes several steps of 10
        held = _mixed_steps(
            runner, [running], [partial], lambda waiting: [min(10, waiting[0].remaining)]
        )
        assert len(held) >= 3
        assert _answer(running) == _generated(parts, long)
        assert _answer(joiner) == _generated(parts, joining)


@pytest.mark.parametrize("with_running", [True, False], ids=["beside-a-decode", "joiners-only"])
def test_two_joiners_chunks_in_one_step_answer_as_generate(
    parts: tuple[Any, Any], with_running: bool
) -> None:
    model, _ = parts
    long = fixed_length_request("how do I fix it?", 30)
    first = fixed_length_request("what is this?", 5, size=(640, 400))
    second = fixed_length_request("is it the proxy?", 7, size=(300, 700))
    policy = BatchPolicy(BatchLimits(prefill_chunk=24))
    with torch.inference_mode():
        runner = _runner(model)
        running = []
        if with_running:
            running = [_sequence(parts, long)]
            runner.advance(running, runner.prefill(running, None))
        joiners = [_sequence(parts, first), _sequence(parts, second)]
        partials = runner.begin_chunked([(joiner, None) for joiner in joiners])
        assert all(p.remaining > 24 for p in partials)
        held = _mixed_steps(
            runner, running, partials, lambda waiting: policy.chunk_sizes(
                [p.remaining for p in waiting]
            ),
        )  # fmt: skip
        assert 2 in held  # the first joiner's last chunk and the second's first, together
        for sequence, request in zip(joiners, [first, second], strict=True):
            assert _answer(sequence) == _generated(parts, request)
        if with_running:
            assert _answer(running[0]) == _generated(parts, long)


def test_joiners_images_encoded_one_by_one_or_in_one_call_give_the_same_inputs(
    parts: tuple[Any, Any],
) -> None:
    model, _ = parts
    two = GenerationRequest(
        messages=(
            ChatMessage(
                Role.USER,
                (
                    ImagePart(render_error_screenshot(size=(640, 400))),
                    ImagePart(render_error_screenshot(size=(300, 700))),
                    TextPart("which one is the real error?"),
                ),
            ),
        ),
        max_new_tokens=2,
    )
    one = fixed_length_request("what is this?", 2, size=(500, 500))
    built = []
    with torch.inference_mode():
        for one_call in (True, False):
            joiners = [
                (_sequence(parts, request), None, slot) for slot, request in enumerate([two, one])
            ]
            built.append(ChunkedPrefill(model, one_encoder_call=one_call).begin(joiners))
    for together, apart in zip(*built, strict=True):
        assert together.visual is not None and apart.visual is not None
        assert torch.equal(together.visual, apart.visual)
        torch.testing.assert_close(apart.embeds, together.embeds, rtol=1e-4, atol=1e-5)
        assert together.deepstack is not None and apart.deepstack is not None
        assert len(apart.deepstack) == len(together.deepstack) > 0
        for mine, theirs in zip(apart.deepstack, together.deepstack, strict=True):
            torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)


def test_the_step_budget_is_shared_oldest_first() -> None:
    policy = BatchPolicy(BatchLimits(prefill_chunk=512))
    assert policy.chunk_sizes([1200, 300]) == [512, 0]
    assert policy.chunk_sizes([176, 300, 900]) == [176, 300, 36]
    assert policy.chunk_sizes([]) == []


@pytest.mark.parametrize("queries", [1, 7], ids=["decode-rows", "a-chunk"])
def test_grouped_attention_is_the_models_sdpa_attention_without_expanding_keys(
    queries: int,
) -> None:
    """Against transformers' own SDPA attention (which expands K/V per query head), with an
    additive mask of decode rows or a causal chunk; key/value head i serves query heads
    i * group .. i * group + group - 1, as `repeat_kv` lays them out."""
    generator = torch.Generator().manual_seed(3)
    rows, heads, kv_heads, dim, width = (3, 8, 2, 16, 12) if queries == 1 else (1, 8, 2, 16, 20)
    module = torch.nn.Module()
    module.num_key_value_groups = heads // kv_heads  # type: ignore[assignment]
    module.is_causal = True  # type: ignore[assignment]
    query = torch.randn(rows, heads, queries, dim, generator=generator)
    key = torch.randn(rows, kv_heads, width, dim, generator=generator)
    value = torch.randn(rows, kv_heads, width, dim, generator=generator)
    held = torch.tensor([5, 9, 12])[:rows] if queries == 1 else torch.tensor([13])
    # each query attends the columns up to its own: the last `queries` are the new ones
    last = held.view(rows, 1, 1) - queries + torch.arange(queries).view(1, queries, 1)
    allowed = (torch.arange(width).view(1, 1, width) <= last).unsqueeze(1)
    mask = additive_mask(allowed, torch.float32)

    ours, _ = grouped_attention(module, query, key, value, mask, scaling=0.3)
    theirs, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=0.3)

    assert ours.shape == theirs.shape == (rows, queries, heads, dim)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
