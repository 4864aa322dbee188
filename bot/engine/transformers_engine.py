"""The in-process engine: one worker thread owns the model and runs `generate()`.

The event loop never runs model code: loading, preprocessing and generation all
happen on the worker thread, and text comes back through an asyncio queue.
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
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor, StoppingCriteriaList

from bot.engine.device import resolve_device, resolve_dtype
from bot.engine.images import decode_for_model
from bot.engine.protocol import EngineState
from bot.engine.request import ChatMessage, GenerationRequest, ImagePart, Queued, TextPart
from bot.engine.streaming import StopWhenCancelled, TextPieceStreamer
from bot.engine.waiting_line import Ticket, WaitingLine
from bot.errors import GenerationFailed, GenerationTimeout, ModelUnavailable, QueueTimeout

log = logging.getLogger(__name__)

_DONE = object()


class TransformersEngine:
    """Runs a Hugging Face vision-language model in this process.

    Args:
        model: Hugging Face id or local directory of the checkpoint.
        device: `auto`, `cpu`, `cuda` or `cuda:N`.
        dtype: `auto`, `bfloat16`, `float16` or `float32`.
        max_new_tokens: default cap on the answer's length.
        max_image_pixels: screenshots are resized to at most this many pixels.
        max_context_tokens: cap on prompt + answer tokens (the model's own limit if lower).
        max_waiting: most requests waiting or running; more get `EngineBusy`.
        observe: called with (metric name, value) for queue wait, time to first
            token and tokens per second; the metrics layer stays outside the engine.
        lora_adapter: a PEFT LoRA adapter (directory or Hub id) merged into the
            model at load time, for domain tuning at no cost per token.

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
        observe: Callable[[str, float], None] | None = None,
        lora_adapter: str | None = None,
    ) -> None:
        self._model_id = model
        self._device = resolve_device(device)
        self._dtype = resolve_dtype(dtype, self._device)
        self._max_new_tokens = max_new_tokens
        self._max_image_pixels = max_image_pixels
        self._max_context_tokens = max_context_tokens
        self._line = WaitingLine(capacity=max_waiting)
        self._observe = observe or (lambda name, value: None)
        self._lora_adapter = lora_adapter
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supportbot-model")
        self._state = EngineState.LOADING
        self._failure: str | None = None
        self._loaded = asyncio.Event()
        self._started = False
        self._model: Any = None
        self._processor: Any = None

    @property
    def state(self) -> EngineState:
        return self._state

    @property
    def failure(self) -> str | None:
        return self._failure

    @property
    def model_id(self) -> str:
        return self._model_id

    @classmethod
    def from_loaded(cls, model: Any, processor: Any, **options: Any) -> TransformersEngine:
        """An engine around a model already in memory (benchmarks build one from a config)."""
        engine = cls(str(getattr(model, "name_or_path", "in-memory")), **options)
        engine._model, engine._processor = model, processor
        engine._state, engine._started = EngineState.READY, True
        engine._loaded.set()
        return engine

    async def start(self) -> None:
        if self._started:  # one load per process, however many callers ask
            await self._loaded.wait()
            return
        self._started = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._worker, self.load)
        except Exception as error:  # any load failure leaves the process up and says why
            self._state = EngineState.FAILED
            self._failure = f"{type(error).__name__}: {error}".splitlines()[0]
            log.error("model %s failed to load: %s", self._model_id, self._failure)
        finally:
            self._loaded.set()

    def load(self) -> None:
        """Load processor and model (blocking); call it from the worker thread."""
        log.info("loading model %s on %s as %s", self._model_id, self._device, self._dtype)
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
        self._state = EngineState.READY
        log.info("model %s ready", self._model_id)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Queued]:
        await self._loaded.wait()
        if self._state is not EngineState.READY:
            raise ModelUnavailable(self._failure or f"engine is {self._state}")
        ticket = self._line.join(request.request_id)
        served: float | None = None
        joined = time.monotonic()
        try:
            async for position in self._wait_turn(ticket, request.queue_timeout):
                yield position
            started = time.monotonic()
            self._observe("supportbot_engine_queue_wait_seconds", started - joined)
            # One request per generate() call: the batch size metric is there for batching.
            self._observe("supportbot_engine_batch_size", 1)
            first = True
            async for piece in self._generate_stream(request):
                if first:
                    self._observe("supportbot_engine_ttft_seconds", time.monotonic() - started)
                    first = False
                yield piece
            served = time.monotonic() - started
        finally:
            self._line.leave(ticket, served_seconds=served)

    async def _wait_turn(self, ticket: Ticket, timeout: float | None) -> AsyncIterator[Queued]:
        deadline = None if timeout is None else time.monotonic() + timeout
        told = -1
        while (ahead := self._line.ahead(ticket)) > 0:
            if ahead != told:
                told = ahead
                yield Queued(ahead)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise QueueTimeout(f"still {ahead} ahead after {timeout} s")
            await self._line.wait_for_change(ticket, remaining)

    async def _generate_stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()

        def emit(text: str) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, text)

        started_at = time.monotonic()
        job = loop.run_in_executor(self._worker, self._generate, request, emit, cancelled)
        job.add_done_callback(lambda _: pieces.put_nowait(_DONE))
        deadline = (
            None
            if request.generation_timeout is None
            else time.monotonic() + request.generation_timeout
        )
        try:
            while True:
                remaining = None if deadline is None else max(deadline - time.monotonic(), 0)
                try:
                    piece = await asyncio.wait_for(pieces.get(), remaining)
                except TimeoutError:
                    raise GenerationTimeout(
                        f"answer not finished within {request.generation_timeout} s"
                    ) from None
                if piece is _DONE:
                    break
                assert isinstance(piece, str)
                yield piece
            new_tokens = await job  # raises GenerationFailed if generate() broke off
            elapsed = time.monotonic() - started_at
            if new_tokens and elapsed > 0:
                self._observe("supportbot_engine_tokens_per_second", new_tokens / elapsed)
        finally:
            cancelled.set()  # a consumer that stops early frees the model at the next token

    @property
    def queue_depth(self) -> int:
        """Requests waiting for the model or using it."""
        return len(self._line)

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

    def _generate(
        self, request: GenerationRequest, emit: Callable[[str], None], cancelled: threading.Event
    ) -> int:
        """Generate on the worker thread; returns how many new tokens were made."""
        try:
            inputs = self._prepare(request)
            streamer = TextPieceStreamer(self._processor.tokenizer, emit)
            with torch.inference_mode():
                output = self._model.generate(
                    **inputs,
                    max_new_tokens=request.max_new_tokens or self._max_new_tokens,
                    min_new_tokens=request.min_new_tokens,
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([StopWhenCancelled(cancelled)]),
                )
            return int(output.shape[-1] - inputs["input_ids"].shape[-1])
        except torch.cuda.OutOfMemoryError as error:
            torch.cuda.empty_cache()
            raise GenerationFailed(f"out of GPU memory: {error}") from error
        except Exception as error:
            log.exception("generation %s failed", request.request_id)
            raise GenerationFailed(f"{type(error).__name__}: {error}") from error

    def _prepare(self, request: GenerationRequest) -> Any:
        images = [decode_for_model(image.data) for image in request.images]
        size = dict(self._processor.image_processor.size)
        size["longest_edge"] = self._pixel_cap()
        inputs = self._processor(
            text=[self.render(request)],
            images=images or None,
            size=size,
            return_tensors="pt",
        )
        return inputs.to(self._model.device)

    async def close(self) -> None:
        self._state = EngineState.CLOSED
        self._worker.shutdown(wait=False, cancel_futures=True)


def _as_template_message(message: ChatMessage) -> dict[str, Any]:
    content: list[dict[str, str]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            content.append({"type": "image"})
    return {"role": message.role.value, "content": content}
