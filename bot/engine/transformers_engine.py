"""The in-process engine: the model on this process's GPU, batched across requests.

The event loop never runs model code: loading happens on a worker thread,
prompt preparation (image decoding, resizing, the image processor) on a small
preprocessing pool, and the model itself on the scheduler's thread. Token ids
come back through an asyncio queue and are turned into text here.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from huggingface_hub import model_info
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor
from transformers.utils import logging as transformers_logging

from bot.engine.decode_mode import DecodeMode
from bot.engine.decoder import COMPILE_BUDGET_SECONDS
from bot.engine.device import (
    device_problem,
    dtype_bytes,
    free_memory_bytes,
    resolve_device,
    resolve_dtype,
)
from bot.engine.footprint import fit_problem, footprint
from bot.engine.images import decode_for_model
from bot.engine.load_failure import LoadRefused, explain, hub_is_offline, source_problem
from bot.engine.policy import BatchLimits
from bot.engine.prefix_cache import PrefixStore
from bot.engine.prepared import PreparedPrompt, image_digest
from bot.engine.protocol import CacheBytes, EngineState, EngineStatus
from bot.engine.request import ChatMessage, GenerationRequest, ImagePart, Queued, TextPart
from bot.engine.sampling import TokenChooser
from bot.engine.scheduler import BatchScheduler
from bot.engine.sequence import Finished, Sequence, Started
from bot.engine.streaming import TextPieces
from bot.errors import GenerationTimeout, ModelUnavailable, QueueTimeout

log = logging.getLogger(__name__)

# A download that failed for a reason that can heal is tried again after these waits (seconds),
# the last one repeated; huggingface_hub has already retried each file a few times by then.
RETRY_DELAYS = (10.0, 20.0, 40.0, 80.0, 160.0, 300.0)
HUB_TIMEOUT_SECONDS = 10.0


def _library_logs_through_root() -> None:
    """Let the model libraries' log lines reach the process's handler, once each.

    huggingface_hub gives its logger a handler of its own and still propagates, so
    every download retry was printed twice; transformers gives its logger a handler
    and stops propagation, so its warnings skipped the process's format and redaction.
    """
    hub = logging.getLogger("huggingface_hub")
    for handler in list(hub.handlers):
        hub.removeHandler(handler)
    hub.propagate = True
    transformers_logging.disable_default_handler()
    transformers_logging.enable_propagation()


class TransformersEngine(EngineStatus):
    """Runs a Hugging Face vision-language model in this process.

    Args:
        model: Hugging Face id or local directory of the checkpoint.
        device: `auto`, `cpu`, `cuda` or `cuda:N`.
        dtype: `auto`, `bfloat16`, `float16` or `float32`.
        max_new_tokens: default cap on the answer's length.
        max_image_pixels: screenshots are resized to at most this many pixels.
        max_context_tokens: cap on prompt + answer tokens (the model's own limit if lower).
        max_waiting: most requests waiting or running; more get `EngineBusy`.
        max_batch: most requests decoding together.
        batch_token_budget: most prompt + answer tokens the running batch may reserve.
        batch_window_seconds: how long an idle engine gathers a burst before prefilling.
        prefill_chunk_tokens: a prompt joining running answers is prefilled this
            many tokens at a time, a decode step between chunks (0: in one pass).
        prefix_cache_bytes: bytes of per-thread cached prefixes kept for follow-ups
            (0 turns reuse off).
        observe: called with (metric name, value) for queue wait, batch size, time
            to first token and tokens per second; the metrics layer stays outside.
        lora_adapter: a PEFT LoRA adapter (directory or Hub id) merged into the
            model at load time, for domain tuning at no cost per token.
        decode_mode: how decode steps run: `eager`, `cuda-graphs` (captured per
            batch bucket during start-up; GPU only), `compile` (opt-in), or
            `auto` (eager until a mode has met the start-up bounds in a
            measured run). The engine reports ready once steps are prepared.
        compile_budget_seconds: with `compile`, start-up stops compiling past
            this and decodes eagerly.
        retry_delays: waits between attempts when loading failed for a reason that
            can heal (the Hub unreachable, a 5xx); empty: fail at once (one-shot commands).

    Example:
        >>> engine = TransformersEngine("Qwen/Qwen3-VL-8B-Instruct")
        >>> await engine.start()
        >>> async for text in engine.stream(request): ...
    """

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        max_new_tokens: int = 1024,
        max_image_pixels: int = 1280 * 1024,
        max_context_tokens: int = 16384,
        max_waiting: int = 64,
        max_batch: int = 32,
        batch_token_budget: int = 65536,
        batch_window_seconds: float = 0.005,
        prefill_chunk_tokens: int = 512,
        prefix_cache_bytes: int = 2 * 2**30,
        observe: Callable[[str, float], None] | None = None,
        lora_adapter: str | None = None,
        decode_mode: DecodeMode | str = DecodeMode.AUTO,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        compile_budget_seconds: float = COMPILE_BUDGET_SECONDS,
    ) -> None:
        _library_logs_through_root()
        self._model_id = model
        self._device = resolve_device(device)
        self._dtype = resolve_dtype(dtype, self._device)
        self._max_new_tokens = max_new_tokens
        self._max_image_pixels = max_image_pixels
        self._max_context_tokens = max_context_tokens
        self._limits = BatchLimits(
            max_batch=max_batch,
            token_budget=batch_token_budget,
            gather_seconds=batch_window_seconds,
            max_waiting=max_waiting,
            prefill_chunk=prefill_chunk_tokens,
        )
        self._prefixes = PrefixStore(prefix_cache_bytes)
        self._observe = observe or (lambda name, value: None)
        self._lora_adapter = lora_adapter
        self._decode_mode = DecodeMode(decode_mode)
        self._retry_delays = retry_delays
        self._compile_budget = compile_budget_seconds
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supportbot-load")
        # Preparing prompts (decode, resize, image processor) overlaps with the GPU's work.
        self._preparers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="supportbot-prep")
        self._scheduler: BatchScheduler | None = None
        super().__init__()
        self._loaded = asyncio.Event()
        self._started = False
        self._model: Any = None
        self._processor: Any = None

    @property
    def model_id(self) -> str:
        return self._model_id

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
        return self._scheduler.decode_mode if self._scheduler else self._decode_mode

    @property
    def decode_cache_bytes(self) -> int:
        """Memory held by the running requests' cache slots."""
        return self._scheduler.cache_bytes if self._scheduler else 0

    @property
    def batch_limit(self) -> int:
        """Requests that may decode together now (fewer after running out of memory)."""
        return self._scheduler.batch_limit if self._scheduler else self._limits.max_batch

    async def start(self) -> None:
        if self._started:  # one load per process, however many callers ask
            await self._loaded.wait()
            return
        self._started = True
        loop = asyncio.get_running_loop()
        attempt = 0
        try:
            while True:
                try:
                    await loop.run_in_executor(self._loader, self.load)
                    return
                except Exception as error:  # every failure is explained; none is raised
                    failure = explain(error, model=self._model_id)
                if not failure.retryable or not self._retry_delays:
                    self._fail(failure.reason)
                    return
                delay = self._retry_delays[min(attempt, len(self._retry_delays) - 1)]
                attempt += 1
                self._progress = f"{failure.reason}; retrying in {delay:g} s"
                log.warning("%s", self._progress)
                await asyncio.sleep(delay)
                if self._state is EngineState.CLOSED:
                    return
        finally:
            self._progress = None
            self._loaded.set()

    def _fail(self, reason: str) -> None:
        # Not logged here: the caller says it once (the CLI's last line, or the server's log).
        self._state = EngineState.FAILED
        self._failure = reason

    def preflight(self) -> None:
        """Raise what makes loading hopeless now, before any download.

        A path that is not a checkpoint, a CUDA device that is not there (or asked
        for by DECODE_MODE=cuda-graphs), weights on disk that cannot fit in the
        device's free memory; and for a model not yet downloaded, one quick look-up
        on the Hub, so that an unreachable Hub is said in seconds rather than after
        huggingface_hub's retries of every file.
        """
        for problem in (source_problem(self._model_id), device_problem(self._device)):
            if problem:
                raise LoadRefused(problem)
        try:
            self._decode_mode.on(torch.device(self._device).type)
        except ValueError as error:
            raise LoadRefused(f"{error}; use DECODE_MODE=auto or eager on {self._device}") from None
        need = footprint(self._model_id, bytes_per_parameter=dtype_bytes(self._dtype))
        if need is None:
            if not hub_is_offline():
                model_info(self._model_id, timeout=HUB_TIMEOUT_SECONDS)
            return
        problem = fit_problem(
            self._model_id,
            weights_bytes=need.weights_bytes,
            device=self._device,
            free_bytes=free_memory_bytes(self._device),
        )
        if problem:
            raise LoadRefused(problem)

    def load(self) -> None:
        """Load processor and model (blocking); call it from the worker thread."""
        log.info("loading model %s on %s as %s", self._model_id, self._device, self._dtype)
        self.preflight()
        self._processor = AutoProcessor.from_pretrained(self._model_id)
        self._model = AutoModelForImageTextToText.from_pretrained(
            self._model_id,
            dtype=self._dtype,
            device_map=self._device,
            attn_implementation="sdpa",
        )
        if self._lora_adapter:
            from peft import PeftModel  # only needed with an adapter

            log.info("merging LoRA adapter %s", self._lora_adapter)
            self._model = PeftModel.from_pretrained(
                self._model, self._lora_adapter
            ).merge_and_unload()
        self._model.eval()
        self._ready()
        log.info("model %s ready", self._model_id)

    def _ready(self) -> None:
        self._processor.tokenizer.padding_side = "left"
        tokenizer = self._processor.tokenizer
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._scheduler = BatchScheduler(
            self._model,
            TokenChooser(self._model.generation_config),
            limits=self._limits,
            prefixes=self._prefixes,
            context_window=self.context_window,
            pad_token_id=int(pad),
            observe=self._observe,
            decode_mode=self._decode_mode,
            compile_budget_seconds=self._compile_budget,
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
            _mailbox(asyncio.get_running_loop(), inbox, cancelled),
            max_new_tokens=request.max_new_tokens or self._max_new_tokens,
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
        if self._model is None:
            return self._max_context_tokens
        limit = int(self._model.config.get_text_config().max_position_embeddings)
        return min(limit, self._max_context_tokens)

    def count_tokens(self, request: GenerationRequest) -> int:
        """Prompt tokens of `request` as the model will see them, image tokens included."""
        text_tokens = len(self._processor.tokenizer(self.render(request))["input_ids"])
        # The rendered prompt holds one <|image_pad|> per image; the processor expands each.
        return text_tokens + sum(self._image_tokens(image) - 1 for image in request.images)

    def _image_tokens(self, image: ImagePart) -> int:
        width, height = image.width, image.height
        if not width or not height:
            with Image.open(io.BytesIO(image.data)) as opened:
                width, height = opened.size
        processor = self._processor.image_processor
        patches = processor.get_number_of_image_patches(
            height,
            width,
            {"max_pixels": self._pixel_cap(), "min_pixels": processor.size["shortest_edge"]},
        )
        return int(patches) // int(processor.merge_size) ** 2

    def _pixel_cap(self) -> int:
        size = self._processor.image_processor.size
        return int(min(size.get("longest_edge", self._max_image_pixels), self._max_image_pixels))

    def render(self, request: GenerationRequest) -> str:
        """The prompt text, formatted by the processor's own chat template."""
        return str(
            self._processor.apply_chat_template(
                [_as_template_message(message) for message in request.messages],
                tokenize=False,
                add_generation_prompt=True,
            )
        )

    def prepare(self, request: GenerationRequest) -> PreparedPrompt:
        """Token ids, image patches and positions of `request` (CPU work, any thread)."""
        images = [decode_for_model(image.data) for image in request.images]
        size = dict(self._processor.image_processor.size)
        size["longest_edge"] = self._pixel_cap()
        inputs = self._processor(
            text=[self.render(request)], images=images or None, size=size, return_tensors="pt"
        )
        input_ids = inputs["input_ids"]
        kinds = inputs.get("mm_token_type_ids")
        kinds = torch.zeros_like(input_ids) if kinds is None else kinds
        text = torch.arange(input_ids.shape[1]).unsqueeze(0)
        if images:
            rope, delta = self._model.model.get_rope_index(
                input_ids, mm_token_type_ids=kinds, image_grid_thw=inputs["image_grid_thw"]
            )
            positions, rope_delta = torch.cat([text, rope[:, 0, :]]), int(delta.reshape(-1)[0])
        else:
            positions, rope_delta = text.expand(4, -1), 0
        return PreparedPrompt(
            token_ids=tuple(int(token) for token in input_ids[0].tolist()),
            positions=positions.clone(),
            rope_delta=rope_delta,
            mm_token_type_ids=kinds[0],
            pixel_values=inputs.get("pixel_values"),
            image_grid_thw=inputs.get("image_grid_thw"),
            image_digests=tuple(image_digest(image.data) for image in request.images),
        )

    async def close(self) -> None:
        self._state = EngineState.CLOSED
        if self._scheduler is not None:
            await asyncio.to_thread(self._scheduler.close)
        self._loader.shutdown(wait=False, cancel_futures=True)
        self._preparers.shutdown(wait=False, cancel_futures=True)


def _as_template_message(message: ChatMessage) -> dict[str, Any]:
    content: list[dict[str, str]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            content.append({"type": "image"})
    return {"role": message.role.value, "content": content}


def _mailbox(
    loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue[object], cancelled: threading.Event
) -> Callable[[object], None]:
    """A thread-safe way into `inbox`; a consumer whose loop has closed cancels the request."""

    def send(item: object) -> None:
        try:
            loop.call_soon_threadsafe(inbox.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            cancelled.set()

    return send


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)
