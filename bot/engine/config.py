"""The in-process engine's configuration: one object, built once, passed down.

The composition root (`bot/app/engine.py`) builds it from `Settings`; the
engine, its scheduler and its runner read what they need from it, as vLLM
passes one `VllmConfig` down instead of a keyword per knob per layer.
Nothing here imports torch, so it can be built and checked anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.decode_mode import DecodeMode
from bot.engine.policy import BatchLimits

COMPILE_BUDGET_SECONDS = 60.0  # the start-up bound for a fresh machine
KV_CACHE_MEMORY_SHARE = 0.9  # of the memory free after weights, when no byte budget is set
# Eight 1280x800 screenshots' encodings for Qwen3-VL-8B (~1,000 tokens x 4,096 x bf16,
# with three DeepStack layers: ~32 MiB each).
ENCODER_CACHE_BYTES = 256 * 2**20
# Two encoder threads: one screenshot's encoder fills the cores another's leaves idle
# between its operators, where one thread makes every joiner's screenshot wait in a chain.
ENCODER_WORKERS = 2


@dataclass(frozen=True)
class EngineConfig:
    """What the in-process engine runs and how.

    Args:
        model: Hugging Face id or local directory of the checkpoint.
        device: `auto`, `cpu`, `cuda` or `cuda:N`.
        dtype: `auto`, `bfloat16`, `float16` or `float32`.
        max_new_tokens: default cap on the answer's length.
        max_image_pixels: screenshots are resized to at most this many pixels.
        max_context_tokens: cap on prompt + answer tokens (the model's own limit
            if lower, and the key/value pool's width if that is lower still).
        max_waiting: most requests waiting or running; more get `EngineBusy`.
        max_batch: most requests decoding together.
        batch_token_budget: most prompt + answer tokens the running batch may reserve.
        batch_window_seconds: how long an idle engine gathers a burst before prefilling.
        prefill_chunk_tokens: a prompt joining running answers is prefilled in
            chunks inside the batch's steps, each step carrying every running
            answer's token and at most this many prompt tokens (0: in one pass).
        prefix_cache_bytes: bytes of per-thread cached prefixes kept for follow-ups
            (0 turns reuse off).
        encoder_cache_bytes: bytes of recent screenshots' vision encodings kept by
            content, so that an image seen again is not encoded again; as much
            again bounds the screenshots encoded ahead of admission on the
            encoder threads (0: neither); both taken from the pool's memory share.
        encoder_workers: threads encoding screenshots ahead of admission, each a
            request's screenshots at a time.
        kv_cache_bytes: bytes of the key/value pool reserved at start-up for
            every decode slot; 0 sizes it from `kv_cache_memory_share` of the
            memory free once the weights are loaded, capped at what `max_batch`
            rows of the whole context window need.
        kv_cache_memory_share: the share of free memory the pool may take when
            `kv_cache_bytes` is 0.
        lora_adapter: a PEFT LoRA adapter (directory or Hub id) merged into the
            model at load time, for domain tuning at no cost per token.
        decode_mode: how decode steps run: `eager`, `cuda-graphs` (captured per
            batch and width during start-up; GPU only), `compile` (opt-in), or
            `auto` (eager until a mode has met the start-up bounds in a
            measured run). The engine reports ready once steps are prepared.
        compile_budget_seconds: with `compile`, start-up stops compiling past
            this and decodes eagerly.

    Example:
        >>> config = EngineConfig("Qwen/Qwen3-VL-8B-Instruct", max_batch=8)
        >>> config.limits.max_batch
        8
    """

    model: str
    device: str = "auto"
    dtype: str = "auto"
    max_new_tokens: int = 1024
    max_image_pixels: int = 1280 * 1024
    max_context_tokens: int = 16384
    max_waiting: int = 64
    max_batch: int = 32
    batch_token_budget: int = 65536
    batch_window_seconds: float = 0.005
    prefill_chunk_tokens: int = 512
    prefix_cache_bytes: int = 2 * 2**30
    encoder_cache_bytes: int = ENCODER_CACHE_BYTES
    encoder_workers: int = ENCODER_WORKERS
    kv_cache_bytes: int = 0
    kv_cache_memory_share: float = KV_CACHE_MEMORY_SHARE
    lora_adapter: str | None = None
    decode_mode: DecodeMode = DecodeMode.AUTO
    compile_budget_seconds: float = COMPILE_BUDGET_SECONDS

    def __post_init__(self) -> None:
        # A plain string is accepted where the enum is meant (`decode_mode="eager"`).
        object.__setattr__(self, "decode_mode", DecodeMode(self.decode_mode))
        if not 0 < self.kv_cache_memory_share <= 1:
            raise ValueError("kv_cache_memory_share must be in (0, 1]")
        if self.kv_cache_bytes < 0:
            raise ValueError("kv_cache_bytes must be 0 (sized from free memory) or more")
        if self.encoder_cache_bytes < 0:
            raise ValueError("encoder_cache_bytes must be 0 (no cache) or more")
        if self.encoder_workers < 1:
            raise ValueError("encoder_workers must be 1 or more")

    @property
    def limits(self) -> BatchLimits:
        """The scheduling limits the policy enforces."""
        return BatchLimits(
            max_batch=self.max_batch,
            token_budget=self.batch_token_budget,
            gather_seconds=self.batch_window_seconds,
            max_waiting=self.max_waiting,
            prefill_chunk=self.prefill_chunk_tokens,
        )
