"""The in-process engine: the model on this process's GPU, batched across requests.

The event loop never runs model code: loading (`loading.py`) happens on a
worker thread, prompt preparation (`preparation.py`: image decoding,
resizing, the image processor) on a small preprocessing pool, the
screenshots' vision encoding ahead of admission on an encoder thread
(`encode_ahead.py`), and the rest of the model on the scheduler's thread.
This module is the running loop: token ids come back through an asyncio
queue and are turned into text here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.engine.config import EngineConfig
from bot.engine.decode_mode import DecodeMode
from bot.engine.device import resolve_device, resolve_dtype
from bot.engine.loading import RETRY_DELAYS, library_logs_through_root, load_model, load_retrying
from bot.engine.mailbox import Mailbox
from bot.engine.prefix_cache import PrefixStore
from bot.engine.preparation import PromptPreparer
from bot.engine.prepared import PreparedPrompt
from bot.engine.protocol import CacheBytes, EngineState, EngineStatus
from bot.engine.request import GenerationRequest, Queued
from bot.engine.sampling import TokenChooser
from bot.engine.scheduler import BatchScheduler
from bot.engine.sequence import Finished, Sequence, Started
from bot.engine.slot_cache import SlotCache
from bot.engine.streaming import TextPieces
from bot.errors import GenerationTimeout, ModelUnavailable, QueueTimeout

log = logging.getLogger(__name__)

__all__ = ["RETRY_DELAYS", "TransformersEngine"]


class TransformersEngine(EngineStatus):
    """Runs a Hugging Face vision-language model in this process.

    Args:
        config: what to run and how (`EngineConfig`), or just the model's id or
            directory, with any `EngineConfig` field given as a keyword.
        observe: called with (metric name, value) for queue wait, batch size, time
            to first token and tokens per second; the metrics layer stays outside.
        retry_delays: waits between attempts when loading failed for a reason that
            can heal (the Hub unreachable, a 5xx); empty: fail at once (one-shot commands).
        **overrides: `EngineConfig` fields that replace the ones in `config`.

    Example:
        >>> engine = TransformersEngine(EngineConfig("Qwen/Qwen3-VL-8B-Instruct"))
        >>> await engine.start()
        >>> async for text in engine.stream(request): ...
    """

    def __init__(
        self,
        config: EngineConfig | str,
        *,
        observe: Callable[[str, float], None] | None = None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        **overrides: Any,
    ) -> None:
        library_logs_through_root()
        if isinstance(config, str):
            config = EngineConfig(config, **overrides)
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config
        self._device = resolve_device(config.device)
        self._dtype = resolve_dtype(config.dtype, self._device)
        self._prefixes = PrefixStore(config.prefix_cache_bytes)
        self._observe = observe or (lambda name, value: None)
        self._retry_delays = retry_delays
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supportbot-load")
        # Preparing prompts (decode, resize, image processor) overlaps with the GPU's work.
        self._preparers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="supportbot-prep")
        self._scheduler: BatchScheduler | None = None
        super().__init__()
        self._loaded = asyncio.Event()
        self._started = False
        self._model: Any = None
        self._processor: Any = None
        self._preparer: PromptPreparer | None = None

    @property
    def model_id(self) -> str:
        return self.config.model

    @classmethod
    def from_loaded(cls, model: Any, processor: Any, **options: Any) -> TransformersEngine:
        """An engine around a model already in memory (benchmarks build one from a config)."""
        engine = cls(str(getattr(model, "name_or_path", "in-memory")), **options)
        engine._model, engine._processor = model, processor
        engine._ready()
        engine._started = True
        engine._loaded.set()
        return engine

    @property
    def prefixes(self) -> PrefixStore:
        """The per-thread cached prefixes (for metrics and tests)."""
        return self._prefixes

    def cache_bytes(self) -> CacheBytes:
        return CacheBytes(prefixes=self._prefixes.nbytes, decode=self.decode_cache_bytes)

    @property
    def decode_mode(self) -> DecodeMode:
        """How decode steps run now; `auto` resolved, and eager after a compiled step failed."""
        return self._scheduler.decode_mode if self._scheduler else self.config.decode_mode

    @property
    def decode_cache_bytes(self) -> int:
        """Memory held by the key/value pool of the decode slots."""
        return self._scheduler.cache_bytes if self._scheduler else 0

    @property
    def kv_pool(self) -> SlotCache | None:
        """The key/value pool the decode slots live in, once started (for metrics and tests)."""
        return self._scheduler.kv_pool if self._scheduler else None

    @property
    def batch_limit(self) -> int:
        """Requests that may decode together now (fewer after running out of memory)."""
        return self._scheduler.batch_limit if self._scheduler else self.config.max_batch

    async def start(self) -> None:
        if self._started:  # one load per process, however many callers ask
            await self._loaded.wait()
            return
        self._started = True
        try:
            failure = await load_retrying(
                self.load,
                executor=self._loader,
                model=self.config.model,
                retry_delays=self._retry_delays,
                progress=self._waiting_to_retry,
                closed=lambda: self._state is EngineState.CLOSED,
            )
            if failure is not None:
                self._fail(failure)
        finally:
            self._progress = None
            self._loaded.set()

    def _waiting_to_retry(self, why: str) -> None:
        self._progress = why
        log.warning("%s", why)

    def _fail(self, reason: str) -> None:
        # Not logged here: the caller says it once (the CLI's last line, or the server's log).
        self._state = EngineState.FAILED
        self._failure = reason

    def load(self) -> None:
        """Load processor and model (blocking); call it from the worker thread."""
        loaded = load_model(self.config, device=self._device, dtype=self._dtype)
        self._model, self._processor = loaded.model, loaded.processor
        self._ready()
        log.info("model %s ready", self.config.model)

    def _ready(self) -> None:
        self._processor.tokenizer.padding_side = "left"
        tokenizer = self._processor.tokenizer
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._preparer = PromptPreparer(
            self._model, self._processor, max_image_pixels=self.config.max_image_pixels
        )
        self._scheduler = BatchScheduler(
            self._model,
            TokenChooser(self._model.generation_config),
            config=self.config,
            prefixes=self._prefixes,
            context_window=self._model_window(),
            pad_token_id=int(pad),
            observe=self._observe,
        )
        self._scheduler.wait_until_warm()
        self._state = EngineState.READY

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Queued]:
        await self._loaded.wait()
        if self._state is not EngineState.READY or self._scheduler is None:
            raise ModelUnavailable(self._failure or f"engine is {self._state}")
        self._scheduler.check_room()  # before spending any work on a request that cannot wait
        inbox: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()
        sequence = Sequence(
            request,
            self._preparers.submit(self.prepare, request),
            Mailbox(asyncio.get_running_loop(), inbox, cancelled),
            max_new_tokens=request.max_new_tokens or self.config.max_new_tokens,
            min_new_tokens=request.min_new_tokens or 0,
            cancelled=cancelled,
        )
        self._scheduler.submit(sequence)
        pieces = TextPieces(self._processor.tokenizer)
        deadline = _deadline(request.queue_timeout)
        started: float | None = None
        first = True
        try:
            while True:
                try:
                    item = await asyncio.wait_for(inbox.get(), _remaining(deadline))
                except TimeoutError:
                    if started is None:
                        raise QueueTimeout(
                            f"not started within {request.queue_timeout} s"
                        ) from None
                    raise GenerationTimeout(
                        f"answer not finished within {request.generation_timeout} s"
                    ) from None
                if isinstance(item, int):
                    if piece := pieces.push(item):
                        if first and started is not None:
                            self._observe(
                                "supportbot_engine_ttft_seconds", time.monotonic() - started
                            )
                            first = False
                        yield piece
                elif isinstance(item, Queued):
                    yield item
                elif isinstance(item, Started):
                    started = time.monotonic()
                    self._observe(
                        "supportbot_engine_queue_wait_seconds", started - sequence.joined_at
                    )
                    deadline = _deadline(request.generation_timeout)
                elif isinstance(item, Finished):
                    if tail := pieces.flush():
                        yield tail
                    if started is not None and item.new_tokens:
                        elapsed = time.monotonic() - started
                        self._observe(
                            "supportbot_engine_tokens_per_second", item.new_tokens / elapsed
                        )
                    return
                elif isinstance(item, BaseException):
                    raise item
        finally:
            sequence.cancelled.set()  # a consumer that stops early frees its place at the next step

    @property
    def queue_depth(self) -> int:
        """Requests waiting for the model or using it."""
        return self._scheduler.depth if self._scheduler else 0

    @property
    def context_window(self) -> int:
        """Most tokens a prompt and its answer may take together."""
        if self._scheduler is not None:
            return self._scheduler.context_window
        return self._model_window()

    def _model_window(self) -> int:
        if self._model is None:
            return self.config.max_context_tokens
        limit = int(self._model.config.get_text_config().max_position_embeddings)
        return min(limit, self.config.max_context_tokens)

    def _prepared(self) -> PromptPreparer:
        if self._preparer is None:
            raise ModelUnavailable(self._failure or f"engine is {self._state}")
        return self._preparer

    def count_tokens(self, request: GenerationRequest) -> int:
        """Prompt tokens of `request` as the model will see them, image tokens included."""
        return self._prepared().count_tokens(request)

    def render(self, request: GenerationRequest) -> str:
        """The prompt text, formatted by the processor's own chat template."""
        return self._prepared().render(request)

    def prepare(self, request: GenerationRequest) -> PreparedPrompt:
        """Token ids, image patches and positions of `request` (CPU work, any thread);
        a screenshot whose encoding the engine holds is left without patches until read."""
        at_hand = self._scheduler.images_at_hand if self._scheduler is not None else None
        return self._prepared().prepare(request, at_hand)

    async def close(self) -> None:
        self._state = EngineState.CLOSED
        if self._scheduler is not None:
            await asyncio.to_thread(self._scheduler.close)
        self._loader.shutdown(wait=False, cancel_futures=True)
        self._preparers.shutdown(wait=False, cancel_futures=True)


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)
