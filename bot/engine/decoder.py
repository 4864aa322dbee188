"""One decode step for every running slot: eager, replayed as CUDA graphs, or compiled.

The step runs the text decoder's layers over fused weights (`fusion`: one
QKV and one gate/up product, fused RMSNorm, grouped-query attention on the
pool's unexpanded K/V) where the model's layout allows, else the model's own
text decoder, then the output head, on a `SlotCache`. It is capture-safe: it
reads its inputs as views of buffers staged before it
(`SlotCache.begin_step`), computes the attention mask on the device, makes no
host round trip and has fixed shapes per `StepShape`. So the same eager step
runs as is, or is captured once per shape with `torch.cuda.CUDAGraph` and
replayed with one launch instead of hundreds (`step_graphs`). Run eagerly,
a step attends only the columns its rows use (`columns_in_use`).

`compile` (opt-in) runs the step under `torch.compile`. Its start-up is
bounded: past `compile_budget_seconds` the engine stops compiling and decodes
eagerly. A captured or compiled step that fails for any reason other than
memory logs why and the engine decodes eagerly from then on: a compiler or
capture problem costs speed, never an answer. A failed step wrote only
columns it will write again.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

import torch

from bot.engine.compat import cache_argument
from bot.engine.config import COMPILE_BUDGET_SECONDS
from bot.engine.decode_mode import DecodeMode
from bot.engine.fusion import FusedText, fuse
from bot.engine.slot_cache import SlotCache, StepShape, bucket_for, widths_up_to
from bot.engine.step_graphs import StepGraphs, cuda_graph_capture

log = logging.getLogger(__name__)

WARM_UP_LONG_ROW = 1500  # a warm-up row longer than one column step, widening the buffers
# An eager step attends its rows' columns rounded up to this (attention kernels
# want aligned widths); captured and compiled steps keep their shape's width.
EAGER_COLUMN_ALIGNMENT = 64


class Decoder:
    """Runs decode steps of `model` over a `SlotCache`."""

    def __init__(
        self,
        model: Any,
        mode: DecodeMode,
        *,
        compile_budget_seconds: float = COMPILE_BUDGET_SECONDS,
        fused: bool = True,
    ) -> None:
        self._model = model
        self.mode = mode.on(model.device.type)
        decoder = model.get_decoder()
        # Vision-language models wrap the text decoder; the step needs only the text part.
        self._text = getattr(decoder, "language_model", decoder)
        self._head = model.get_output_embeddings()
        self._cache_argument = cache_argument(self._text.forward)
        self._fused: FusedText | None = fuse(self._text) if fused else None
        self._compile_budget = compile_budget_seconds
        self._cache: SlotCache | None = None  # the cache captured graphs read
        self._graphs: StepGraphs | None = None
        if self.mode is DecodeMode.CUDA_GRAPHS:
            self._graphs = StepGraphs(cuda_graph_capture(self._captured_step))
        self._compiled: Any = None
        if self.mode is DecodeMode.COMPILE:
            # Past its recompile limit torch would quietly run the step eagerly;
            # raising instead lets `run` fall back and report it.
            torch._dynamo.config.fail_on_recompile_limit_hit = True
            # Sizes that happen to be equal while compiling (a bucket and the
            # buffer's slots) must not be assumed equal forever: each would cost
            # a recompile when they part.
            torch.fx.experimental._config.use_duck_shape = False
            self._compiled = torch.compile(self._forward, fullgraph=True)

    @property
    def fused(self) -> bool:
        """Whether the step runs over fused weights rather than the model's own forward."""
        return self._fused is not None

    def run(self, cache: SlotCache, shape: StepShape) -> torch.Tensor:
        """Logits of the next token for the staged step's bucket of slots, [bucket, vocab]."""
        if self._graphs is not None:
            try:
                self._cache = cache
                replayed = self._graphs.replay(shape, cache.generation)
                if replayed is not None:
                    return replayed
                log.warning("no captured decode step for %s; this step runs eagerly", shape)
                return self.step(cache, shape)
            except torch.cuda.OutOfMemoryError:
                raise
            except Exception:
                log.exception("the captured decode step failed; decoding eagerly from now on")
                self._eager_from_now_on()
        if self._compiled is not None:
            try:
                inputs = cache.inputs
                assert inputs is not None, "begin_step() first"
                ids, positions = inputs.ids(shape.bucket), inputs.positions(shape.bucket)
                cache.bind(shape)
                _vary(ids, positions, cache)
                logits: torch.Tensor = self._compiled(ids, positions, cache)
                return logits
            except torch.cuda.OutOfMemoryError:
                raise
            except Exception:
                log.exception("the compiled decode step failed; decoding eagerly from now on")
                self._eager_from_now_on()
        return self.step(cache, columns_in_use(cache, shape))

    def step(self, cache: SlotCache, shape: StepShape) -> torch.Tensor:
        """The eager decode step: capture-safe (no host sync, fixed shapes per `shape`)."""
        inputs = cache.inputs
        assert inputs is not None, "begin_step() first"
        cache.bind(shape)
        return self._forward(inputs.ids(shape.bucket), inputs.positions(shape.bucket), cache)

    def _captured_step(self, shape: StepShape) -> torch.Tensor:
        assert self._cache is not None
        return self.step(self._cache, shape)

    def _forward(
        self, ids: torch.Tensor, positions: torch.Tensor, cache: SlotCache
    ) -> torch.Tensor:
        step = cache.step
        assert step is not None, "bind() first"
        if self._fused is not None:
            # Row 1 of the staged positions is the rope's (rows 1-3 are equal when decoding).
            hidden = self._fused.step(ids, positions[1], step.attention_mask, cache)
            fused_logits: torch.Tensor = self._head(hidden)
            return fused_logits
        output = self._text(
            input_ids=ids,
            position_ids=positions,
            attention_mask=step.attention_mask,
            use_cache=True,
            **{self._cache_argument: cache},
        )
        logits: torch.Tensor = self._head(output.last_hidden_state[:, -1])
        return logits

    def _eager_from_now_on(self) -> None:
        self._graphs = None
        self._compiled = None
        self.mode = DecodeMode.EAGER

    # ----- start-up -----

    def warm_up(self, cache: SlotCache, max_batch: int) -> None:
        """Prepare every shape the step will see before the first request waits for it.

        CUDA graphs: every bucket up to `max_batch` at every attended width of
        the cache (reserved by the caller) is captured (seconds), largest
        first, with the garbage collector frozen, logged as it goes. Compiled:
        three compilations cover every shape (see `_vary`), within the budget.
        """
        if self._graphs is not None:
            self._capture_buckets(cache, max_batch)
        elif self._compiled is not None:
            self._compile_within_budget(cache, max_batch)

    def _capture_buckets(self, cache: SlotCache, max_batch: int) -> None:
        assert self._graphs is not None
        started = time.monotonic()
        if not cache.fixed:
            raise RuntimeError("reserve the key/value pool before capturing decode steps")
        self._cache = cache
        buckets = sorted({bucket_for(rows) for rows in range(1, max_batch + 1)})
        shapes = [StepShape(b, width) for b in buckets for width in widths_up_to(cache.columns)]
        # As vLLM does: objects made during capture are not collected mid-capture,
        # and the collector does not walk them while capturing the rest.
        gc.collect()
        gc.freeze()
        try:
            self._graphs.capture_all(shapes, cache.generation)
        except torch.cuda.OutOfMemoryError:
            raise
        except Exception:
            log.exception("capturing the decode step failed; decoding eagerly")
            self._eager_from_now_on()
            return
        finally:
            gc.unfreeze()
        log.info(
            "decode steps ready (%s, %d graphs) in %.1f s",
            self.mode,
            len(shapes),
            time.monotonic() - started,
        )

    def _compile_within_budget(self, cache: SlotCache, max_batch: int) -> None:
        started = time.monotonic()
        # A long row widens the buffers past what the next, short rows attend;
        # then buffers exactly as wide as attended (the compiler treats a
        # whole-buffer view apart), then every bucket.
        plan = [(1, 1), (1, WARM_UP_LONG_ROW), (2, 1), None]
        plan += [(b, 1) for b in sorted({bucket_for(r) for r in range(1, max_batch + 1)})]
        for done, item in enumerate(plan, start=1):
            if item is None:
                if not cache.fixed:  # a reserved pool is already as wide as it gets
                    cache.release()
                continue
            bucket, longest = item
            if cache.fixed:
                longest = min(longest, cache.columns - 1)
            self._step_on_zeros(cache, bucket, longest)
            if self._compiled is None:  # it failed and fell back
                break
            elapsed = time.monotonic() - started
            log.info("compiling decode steps %d/%d (%.0f s)", done, len(plan), elapsed)
            if elapsed > self._compile_budget:
                log.warning(
                    "compiling the decode step took %.0f s, past its %.0f s bound; "
                    "decoding eagerly",
                    elapsed,
                    self._compile_budget,
                )
                self._eager_from_now_on()
                break
        if not cache.fixed:
            cache.release()
        log.info("decode steps ready (%s) for batches up to %d", self.mode, max_batch)

    def kv_zeros(self, rows: int, columns: int) -> torch.Tensor:
        """Zeros shaped like `rows` rows of one layer's keys, `columns` wide, on the device."""
        config = self._model.config.get_text_config()
        heads = int(config.num_key_value_heads)
        dim = int(getattr(config, "head_dim", config.hidden_size // config.num_attention_heads))
        shape = (rows, heads, columns, dim)
        return torch.zeros(shape, dtype=self._model.dtype, device=self._model.device)

    def _step_on_zeros(self, cache: SlotCache, bucket: int, longest: int) -> None:
        zeros = self.kv_zeros(bucket, longest)
        layers = int(self._model.config.get_text_config().num_hidden_layers)
        slots = cache.add([(zeros, zeros)] * layers, [longest, *[1] * (bucket - 1)])
        shape = cache.begin_step({}, 0)
        self.run(cache, shape)
        cache.remove(slots)


def columns_in_use(cache: SlotCache, shape: StepShape) -> StepShape:
    """`shape` attending only the columns its rows use: an eager step has no shape to keep.

    Each running row writes column `length` this step, so it needs `length + 1`.
    """
    longest = max(cache.lengths.values(), default=0) + 1
    aligned = -(-longest // EAGER_COLUMN_ALIGNMENT) * EAGER_COLUMN_ALIGNMENT
    return StepShape(shape.bucket, min(shape.attended, aligned))


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
