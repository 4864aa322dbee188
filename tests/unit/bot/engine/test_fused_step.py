"""The decode step over fused weights gives the model's own forward's tokens, in fewer operators.

On the real tiny checkpoint: rows of different lengths decode greedily
through the fused step and through transformers' own text decoder over the
same pool, and must pick the same tokens with logits equal to float32
rounding, while the bucket shrinks; in bf16, fed the same tokens, its logits
stay as close to float32's as the model's own bf16 forward's; transformers'
`generate` on the model after fusion gives what it gave before (the
modules' weights became views of the fused ones, nothing else changed). The operator counts say the
fusion did what it is for: one QKV and one gate/up product a layer, no
`repeat_kv` copies, RMSNorm as one operator.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.profiler import ProfilerActivity, profile
from transformers import AutoModelForImageTextToText

from bot.engine.decode_mode import DecodeMode
from bot.engine.decoder import Decoder
from bot.engine.slot_cache import COLUMN_STEP, SlotCache

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(tiny_checkpoint: Path) -> Any:
    return AutoModelForImageTextToText.from_pretrained(tiny_checkpoint, dtype=torch.float32).eval()


def _filled_cache(model: Any, lengths: list[int]) -> SlotCache:
    """Rows of `lengths` with the same random keys and values, in the model's dtype."""
    config = model.config.get_text_config()
    generator = torch.Generator().manual_seed(0)
    shape = (len(lengths), config.num_key_value_heads, max(lengths), config.head_dim)
    layers = [
        (
            torch.randn(shape, generator=generator).to(model.dtype),
            torch.randn(shape, generator=generator).to(model.dtype),
        )
        for _ in range(config.num_hidden_layers)
    ]
    cache = SlotCache(config.num_hidden_layers)
    cache.add(layers, lengths)
    return cache


def _greedy(decoder: Decoder, model: Any, steps: int) -> tuple[list[list[int]], list[torch.Tensor]]:
    """Each row's greedy tokens and every step's logits; rows leave as the run goes."""
    cache = _filled_cache(model, [5, 40, 3, 9])
    leave_at = {3: 1, 2: 3}
    tokens = {slot: [slot + 1] for slot in cache.lengths}
    logits_seen = []
    with torch.inference_mode():
        for index in range(steps):
            running = sorted(cache.lengths)
            # Text and rope positions differ, as after an image: the rope's must be the one used.
            feeds = {s: (tokens[s][-1], cache.lengths[s], cache.lengths[s] + 7) for s in running}
            shape = cache.begin_step(feeds, pad_token=0)
            logits = decoder.step(cache, shape)
            cache.end_step()
            logits_seen.append(logits[: len(running)].clone())
            for slot in running:
                tokens[slot].append(int(logits[slot].argmax()))
            cache.remove([slot for slot in running if leave_at.get(slot) == index])
    return [tokens[slot] for slot in sorted(tokens)], logits_seen


def test_the_fused_step_gives_the_models_own_tokens_and_logits(model: Any) -> None:
    fused = Decoder(model, DecodeMode.EAGER)
    own = Decoder(model, DecodeMode.EAGER, fused=False)
    assert fused.fused and not own.fused

    fused_tokens, fused_logits = _greedy(fused, model, 6)
    own_tokens, own_logits = _greedy(own, model, 6)

    assert fused_tokens == own_tokens
    for mine, theirs in zip(fused_logits, own_logits, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-4)


def test_generate_gives_the_same_tokens_after_the_weights_are_fused(tiny_checkpoint: Path) -> None:
    model = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint).eval()
    prompt = torch.tensor([[1, 5, 9, 33, 2, 7, 11]])
    settings: dict[str, Any] = {"max_new_tokens": 10, "do_sample": False}
    with torch.inference_mode():
        before = model.generate(input_ids=prompt, **settings)
        weights = sum(parameter.numel() for parameter in model.parameters())
        Decoder(model, DecodeMode.EAGER)  # fuses the text decoder's weights
        after = model.generate(input_ids=prompt, **settings)
    assert torch.equal(before, after)
    assert sum(parameter.numel() for parameter in model.parameters()) == weights
    text = model.get_decoder()
    attention = getattr(text, "language_model", text).layers[0].self_attn
    q, k = attention.q_proj.weight, attention.k_proj.weight
    assert q.untyped_storage().data_ptr() == k.untyped_storage().data_ptr()  # views of one QKV


def _operators(decoder: Decoder, model: Any) -> Counter[str]:
    cache = _filled_cache(model, [5, 40])
    feeds = {slot: (3, length, length) for slot, length in cache.lengths.items()}
    shape = cache.begin_step(feeds, pad_token=0)
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as p:
        decoder.step(cache, shape)
    return Counter(event.name for event in p.events())


def test_the_fused_step_runs_one_projection_per_fused_group_and_no_key_value_copies(
    model: Any,
) -> None:
    layers = model.config.get_text_config().num_hidden_layers
    fused = _operators(Decoder(model, DecodeMode.EAGER), model)
    own = _operators(Decoder(model, DecodeMode.EAGER, fused=False), model)

    # QKV, gate/up and the head; the output and down products are `addmm` with the residual.
    assert fused["aten::linear"] == 2 * layers + 1
    assert fused["aten::addmm"] >= 2 * layers
    assert fused["aten::rms_norm"] == 3 * layers + 1  # input, Q and K together, post; final
    assert own["aten::linear"] == 7 * layers + 1
    # K/V reach attention unexpanded: no `repeat_kv` (expand + reshape copies), no `neg`/`cat`.
    assert fused["aten::neg"] == 0 and fused["aten::cat"] == 0
    assert own["aten::neg"] > 0


def _forced_logits(decoder: Decoder, model: Any, steps: int) -> list[torch.Tensor]:
    """Every step's logits with the same tokens fed whatever was predicted (no divergence)."""
    cache = _filled_cache(model, [5, 40, 3])
    seen = []
    with torch.inference_mode():
        for index in range(steps):
            feeds = {s: ((13 * s + 7 * index) % 50, n, n + 7) for s, n in cache.lengths.items()}
            logits = decoder.step(cache, cache.begin_step(feeds, pad_token=0))
            cache.end_step()
            seen.append(logits[:3].float().clone())
    return seen


def test_the_fused_bf16_step_stays_as_close_to_float32_as_the_models_own(
    tiny_checkpoint: Path,
) -> None:
    bf16 = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint, dtype=torch.bfloat16)
    fp32 = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint, dtype=torch.float32)
    exact = _forced_logits(Decoder(fp32.eval(), DecodeMode.EAGER, fused=False), fp32, 4)
    own = _forced_logits(Decoder(bf16.eval(), DecodeMode.EAGER, fused=False), bf16, 4)
    fused = _forced_logits(Decoder(bf16, DecodeMode.EAGER), bf16, 4)
    for reference, theirs, mine in zip(exact, own, fused, strict=True):
        own_error = float((theirs - reference).abs().max())
        assert float((mine - reference).abs().max()) <= 2 * own_error + 1e-3


def _attended_widths(decoder: Decoder, cache: SlotCache, run: bool) -> tuple[set[int], Any]:
    feeds = {slot: (3, length, length) for slot, length in cache.lengths.items()}
    shape = cache.begin_step(feeds, pad_token=0)
    with (
        torch.inference_mode(),
        profile(activities=[ProfilerActivity.CPU], record_shapes=True) as p,
    ):
        logits = (decoder.run if run else decoder.step)(cache, shape)
    widths = {
        event.input_shapes[1][2]
        for event in p.events()
        if event.name == "aten::scaled_dot_product_attention"
    }
    return widths, logits[: len(cache.lengths)].clone()


def test_an_eager_step_attends_only_the_columns_its_rows_use(model: Any) -> None:
    decoder = Decoder(model, DecodeMode.EAGER)
    cache = _filled_cache(model, [5, 70])  # the longest row writes column 70: 71 in use

    full, full_logits = _attended_widths(decoder, cache, run=False)
    in_use, logits = _attended_widths(decoder, cache, run=True)  # the step the runner runs

    assert full == {COLUMN_STEP}  # the shape's width, as captured graphs need it
    assert in_use == {128}  # 71 columns, rounded up to the 64-column alignment
    torch.testing.assert_close(logits, full_logits, rtol=1e-5, atol=1e-5)
