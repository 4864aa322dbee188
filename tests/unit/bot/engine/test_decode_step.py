"""The decode step is capture-safe, and captured steps are kept and picked per shape.

A CUDA graph replays exactly the kernels, shapes and addresses it captured.
Without a GPU these tests check what that needs, on the real tiny model:

- the step never reads a tensor's value back to the host (the profiler would
  record `aten::_local_scalar_dense`, which is what `.item()`, `.tolist()`
  and `bool(tensor)` run, and `nonzero`-style ops whose output size depends
  on data);
- two steps of one shape run the same operators on the same shapes, whatever
  the rows' lengths and tokens, and read their inputs at the same addresses;
- `StepGraphs` captures each shape once per generation of the cache's buffers
  and never replays a capture after the buffers moved, giving the eager
  step's tokens while the bucket goes 4 -> 2 -> 1 and the columns grow.

What stays for a GPU: that `torch.cuda.CUDAGraph` capture succeeds and
replays the same tokens (tests marked `gpu`), and memory behaviour under capture.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.profiler import ProfilerActivity, profile
from transformers import AutoModelForImageTextToText

from bot.engine.decode_mode import DecodeMode
from bot.engine.decoder import Decoder
from bot.engine.slot_cache import COLUMN_STEP, SlotCache, StepShape
from bot.engine.step_graphs import Replay, StepGraphs

pytestmark = pytest.mark.slow

HOST_READS = {"aten::_local_scalar_dense", "aten::item", "aten::nonzero", "aten::masked_select"}


@pytest.fixture(scope="module")
def model(tiny_checkpoint: Path) -> Any:
    return AutoModelForImageTextToText.from_pretrained(tiny_checkpoint).eval()


def _filled_cache(model: Any, lengths: list[int], seed: int = 0) -> SlotCache:
    """A decode cache holding rows of `lengths` with random keys and values."""
    config = model.config.get_text_config()
    generator = torch.Generator().manual_seed(seed)
    shape = (len(lengths), config.num_key_value_heads, max(lengths), config.head_dim)
    layers = [
        (torch.randn(shape, generator=generator), torch.randn(shape, generator=generator))
        for _ in range(config.num_hidden_layers)
    ]
    cache = SlotCache(config.num_hidden_layers)
    cache.add(layers, lengths)
    return cache


def _feeds(cache: SlotCache, tokens: dict[int, int]) -> dict[int, tuple[int, int, int]]:
    return {slot: (tokens[slot], length, length + 3) for slot, length in cache.lengths.items()}


def _profiled_step(
    decoder: Decoder, cache: SlotCache, tokens: dict[int, int]
) -> tuple[StepShape, list[tuple[str, str]]]:
    shape = cache.begin_step(_feeds(cache, tokens), pad_token=0)
    with (
        torch.inference_mode(),
        profile(activities=[ProfilerActivity.CPU], record_shapes=True) as p,
    ):
        decoder.step(cache, shape)
    cache.end_step()
    return shape, [(event.name, str(event.input_shapes)) for event in p.events()]


def test_a_step_reads_nothing_back_and_runs_the_same_shapes_for_any_lengths(model: Any) -> None:
    decoder = Decoder(model, DecodeMode.EAGER)
    cache = _filled_cache(model, [5, 40, 3, 9])
    inputs_at = cache.inputs.staged_for(1).data_ptr() if cache.inputs else None
    first_shape, first = _profiled_step(decoder, cache, {0: 7, 1: 11, 2: 13, 3: 2})
    cache.remove([1])  # a row leaves; the bucket stays 4 (slot 3 is still running)
    second_shape, second = _profiled_step(decoder, cache, {0: 21, 2: 5, 3: 8})

    assert first_shape == second_shape == StepShape(4, COLUMN_STEP)
    assert "aten::scatter_" in {name for name, _ in first}  # the profile saw the step
    assert not HOST_READS & {name for name, _ in first}
    assert first == second  # operators and their input shapes, in order
    assert cache.inputs is not None and cache.inputs.staged_for(1).data_ptr() == inputs_at


def _eager_capture(
    decoder: Decoder, cache: SlotCache, replays: list[tuple[StepShape, int]]
) -> Callable[[StepShape], Replay]:
    """Capture as a graph would for the CPU: fix the shape, the buffers' generation and addresses.

    A replay checks that the buffers it captured are still the cache's: a real
    graph replayed after they moved would read freed memory.
    """

    def capture(shape: StepShape) -> Replay:
        generation = cache.generation
        assert cache.inputs is not None
        staged = cache.inputs.staged_for(1).data_ptr()
        keys = cache.buffers()[0].data_ptr()

        def replay() -> torch.Tensor:
            assert cache.generation == generation, "replayed a capture of moved buffers"
            assert cache.inputs is not None and cache.inputs.staged_for(1).data_ptr() == staged
            assert cache.buffers()[0].data_ptr() == keys
            replays.append((shape, generation))
            return decoder.step(cache, shape)

        return replay

    return capture


def _greedy_run(
    model: Any, lengths: list[int], leave_at: dict[int, int], steps: int, graphs: bool
) -> tuple[list[list[int]], list[tuple[StepShape, int]], int]:
    """Each row's greedy tokens over `steps` steps; row `r` leaves after step `leave_at[r]`."""
    decoder = Decoder(model, DecodeMode.EAGER)
    cache = _filled_cache(model, lengths)
    replays: list[tuple[StepShape, int]] = []
    step_graphs = StepGraphs(_eager_capture(decoder, cache, replays))
    tokens = {slot: [slot + 1] for slot in cache.lengths}
    with torch.inference_mode():
        for index in range(steps):
            running = sorted(cache.lengths)
            feeds = _feeds(cache, {slot: tokens[slot][-1] for slot in running})
            shape = cache.begin_step(feeds, pad_token=0)
            if graphs:
                replayed = step_graphs.replay(shape, cache.generation)
                assert replayed is not None  # nothing captured up front: captured on demand
                logits = replayed
            else:
                logits = decoder.step(cache, shape)
            cache.end_step()
            for slot in running:
                tokens[slot].append(int(logits[slot].argmax()))
            cache.remove([slot for slot in running if leave_at.get(slot) == index])
    return [tokens[slot] for slot in sorted(tokens)], replays, step_graphs.captures


def test_captured_steps_give_the_eager_tokens_while_the_bucket_shrinks_and_columns_grow(
    model: Any,
) -> None:
    # Four rows (bucket 4); slots 3 then 2 leave (bucket 2), then 1 (bucket 1).
    # Row 0 starts two columns short of the buffer's end, so the buffers grow mid-run.
    lengths = [COLUMN_STEP - 2, 30, 12, 7]
    leave_at = {3: 1, 2: 2, 1: 4}
    eager, _, _ = _greedy_run(model, lengths, leave_at, 8, graphs=False)
    replayed, replays, captures = _greedy_run(model, lengths, leave_at, 8, graphs=True)

    assert replayed == eager
    shapes = [shape for shape, _ in replays]
    assert shapes[:2] == [StepShape(4, COLUMN_STEP)] * 2  # one capture, replayed
    assert shapes[-1] == StepShape(1, 2 * COLUMN_STEP)  # the wider buffers' own capture
    generations = [generation for _, generation in replays]
    assert generations == sorted(generations) and len(set(generations)) == 2  # grew once
    assert captures == len(set(replays))  # each shape once per generation of the buffers


def test_auto_decodes_eagerly_on_a_gpu_until_a_mode_met_the_start_up_bounds() -> None:
    assert DecodeMode.AUTO.on("cuda") is DecodeMode.EAGER
    assert DecodeMode.AUTO.on("cpu") is DecodeMode.EAGER
    assert DecodeMode.CUDA_GRAPHS.on("cuda") is DecodeMode.CUDA_GRAPHS


def test_compiling_past_its_start_up_bound_stops_and_decodes_eagerly(
    model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    torch._dynamo.reset()
    decoder = Decoder(model, DecodeMode.COMPILE, compile_budget_seconds=0.0)
    cache = SlotCache(model.config.get_text_config().num_hidden_layers)
    with caplog.at_level(logging.INFO), torch.inference_mode():
        decoder.warm_up(cache, max_batch=4)
    assert decoder.mode is DecodeMode.EAGER
    assert "past its 0 s bound; decoding eagerly" in caplog.text
    assert "compiling decode steps 1/" in caplog.text
    assert "compiling decode steps 2/" not in caplog.text  # it stopped at the first check
    assert cache.nbytes() == 0  # the warm-up's buffers were given back
