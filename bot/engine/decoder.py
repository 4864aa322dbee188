"""One decode step for every running slot: eager, compiled, or replayed as CUDA graphs.

The step calls the model's own text decoder and output head on a `SlotCache`,
so compiled and eager steps run the same code. Compiling turns a step's many
small kernels into a few fused ones; CUDA graphs also replay the whole step
with one launch instead of paying Python and launch overhead on each of its
hundreds of kernels. Each batch bucket and attended width gets its own graph.

A compiled step that fails for any reason other than memory logs why and the
engine decodes eagerly from then on: a compiler problem costs speed, never an
answer. The failed step wrote only columns it will write again.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from bot.engine.decode_mode import DecodeMode
from bot.engine.slot_cache import SlotCache, bucket_for

log = logging.getLogger(__name__)

WARM_UP_LONG_ROW = 1500  # a warm-up row longer than one column step, widening the buffers


class Decoder:
    """Runs decode steps of `model` over a `SlotCache`."""

    def __init__(self, model: Any, mode: DecodeMode) -> None:
        self._model = model
        self.mode = mode.on(model.device.type)
        decoder = model.get_decoder()
        # Vision-language models wrap the text decoder; the step needs only the text part.
        self._text = getattr(decoder, "language_model", decoder)
        self._head = model.get_output_embeddings()
        self._compiled: Any = None
        if self.mode is not DecodeMode.EAGER:
            # Past its recompile limit torch would quietly run the step eagerly;
            # raising instead lets `__call__` fall back and report it.
            torch._dynamo.config.fail_on_recompile_limit_hit = True
            # Sizes that happen to be equal while compiling (a bucket and the
            # buffer's slots) must not be assumed equal forever: each would cost
            # a recompile when they part.
            torch.fx.experimental._config.use_duck_shape = False
            self._compiled = torch.compile(
                self._eager,
                fullgraph=True,
                mode="reduce-overhead" if self.mode is DecodeMode.CUDA_GRAPHS else "default",
            )

    def __call__(
        self, ids: torch.Tensor, positions: torch.Tensor, cache: SlotCache
    ) -> torch.Tensor:
        """Logits of the next token for the step's bucket of slots, shaped [bucket, vocab]."""
        if self._compiled is not None:
            try:
                _vary(ids, positions, cache)
                logits: torch.Tensor = self._compiled(ids, positions, cache)
                # CUDA graphs reuse their output buffer on the next replay.
                return logits.clone() if self.mode is DecodeMode.CUDA_GRAPHS else logits
            except torch.cuda.OutOfMemoryError:
                raise
            except Exception:
                log.exception("the compiled decode step failed; decoding eagerly from now on")
                self._compiled = None
                self.mode = DecodeMode.EAGER
        return self._eager(ids, positions, cache)

    def _eager(self, ids: torch.Tensor, positions: torch.Tensor, cache: SlotCache) -> torch.Tensor:
        step = cache.step
        assert step is not None, "begin_step() first"
        output = self._text(
            input_ids=ids,
            position_ids=positions,
            attention_mask=step.attention_mask,
            cache=cache,
            use_cache=True,
        )
        logits: torch.Tensor = self._head(output.last_hidden_state[:, -1])
        return logits

    def warm_up(self, cache: SlotCache, max_batch: int) -> None:
        """Compile every shape the step will see before the first request waits for it.

        Three compilations cover them all: a bucket of one; larger buckets with
        buffers wider than the attended columns; and with buffers exactly as
        wide (the compiler treats a whole-buffer view apart). With CUDA graphs,
        each bucket is also captured once. The buffers are given back
        afterwards, so warming up costs no memory while serving.
        """
        if self._compiled is None:
            return
        # A long row widens the buffers past what the next, short rows attend.
        for bucket, longest in [(1, 1), (1, WARM_UP_LONG_ROW), (2, 1)]:
            self._step_on_zeros(cache, bucket, longest)
        cache.release()
        for bucket in sorted({bucket_for(rows) for rows in range(1, max_batch + 1)}):
            self._step_on_zeros(cache, bucket, 1)  # buffers exactly as wide as attended
        cache.release()
        log.info("decode steps ready (%s) for batches up to %d", self.mode, max_batch)

    def _step_on_zeros(self, cache: SlotCache, bucket: int, longest: int) -> None:
        config = self._model.config.get_text_config()
        heads = int(config.num_key_value_heads)
        dim = int(getattr(config, "head_dim", config.hidden_size // config.num_attention_heads))
        device, dtype = self._model.device, self._model.dtype
        zeros = torch.zeros((bucket, heads, longest, dim), dtype=dtype, device=device)
        slots = cache.add(
            [(zeros, zeros)] * int(config.num_hidden_layers), [longest, *[1] * (bucket - 1)]
        )
        step = cache.begin_step(device)
        ids = torch.zeros((step.bucket, 1), dtype=torch.long, device=device)
        positions = torch.zeros((4, step.bucket, 1), dtype=torch.long, device=device)
        self(ids, positions, cache)
        cache.remove(slots)


def _vary(ids: torch.Tensor, positions: torch.Tensor, cache: SlotCache) -> None:
    """Mark the sizes that change between steps, so they compile as sizes and not constants.

    Without this the compiler first specialises on every size and recompiles
    once per size that changes; with it, a bucket of one is the only special case.
    """
    step = cache.step
    assert step is not None
    varying = [(ids, 0), (positions, 1), (step.write_at, 0)]
    varying += [(step.attention_mask, 0), (step.attention_mask, 3)]  # bucket, width
    varying += [(buffer, dim) for buffer in cache.buffers() for dim in (0, 2)]  # slots, columns
    for tensor, dim in varying:
        torch._dynamo.maybe_mark_dynamic(tensor, dim)
