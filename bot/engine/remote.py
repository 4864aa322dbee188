"""An engine that sends the same prompts, images included, to an OpenAI-compatible server.

For a company that outgrows one GPU: vLLM, SGLang, TGI or `transformers serve`
run the model (and batch it) elsewhere; the bot streams `/v1/chat/completions`
through the `openai` client (its SSE parsing, retries of connection errors, 429
and 5xx with backoff, and typed errors), which this module maps onto the bot's
error tree.

Importable without torch or transformers: a replica running `ENGINE=remote`
installs neither (see the README's slim install).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam

from bot.engine.image_tokens import QWEN3_VL_MAX_PIXELS, qwen3_vl_rule
from bot.engine.images import sniff_image_type
from bot.engine.protocol import CacheBytes, EngineState, EngineStatus
from bot.engine.request import ChatMessage, GenerationRequest, ImagePart, Queued, TextPart
from bot.errors import (
    EngineBusy,
    EngineError,
    GenerationFailed,
    GenerationTimeout,
    ModelUnavailable,
)
from bot.printable_urls import printable_url

log = logging.getLogger(__name__)

# Waits between readiness checks while the server does not answer: a server that starts
# after the bot (a deploy, a node restart) is found within the last wait, never given up on.
READINESS_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
# The `openai` client's own retries of one request (connection errors, 408, 409, 429, 5xx),
# with its exponential backoff: https://github.com/openai/openai-python#retries
MAX_RETRIES = 2
_BUSY_RETRY_AFTER_SECONDS = 10
# A server's Retry-After is believed up to an hour: the user is told the figure.
_MAX_RETRY_AFTER_SECONDS = 3600
_MAX_SERVER_MESSAGE = 300


def _as_openai(message: ChatMessage) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            encoded = base64.b64encode(part.data).decode()
            media_type = sniff_image_type(part.data[:16]) or "image/png"
            content.append(
                {
                    "type": "image_url",
                    "image_url": {"url": f"data:{media_type};base64,{encoded}"},
                }
            )
    return {"role": message.role.value, "content": content}


def _describe(error: BaseException) -> str:
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        # The server is there but refuses us: waiting will not fix the key.
        return f"HTTP {error.status_code}, check ENGINE_API_KEY"
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code}"
    return type(error).__name__


def _retry_after(error: openai.APIStatusError) -> int:
    """The server's Retry-After in whole seconds, within 1 s and an hour; else our guess.

    Seconds or an HTTP date (https://www.rfc-editor.org/rfc/rfc9110#name-retry-after),
    and the `retry-after-ms` the `openai` client honours itself
    (https://github.com/openai/openai-python#retries).
    """
    headers = error.response.headers
    seconds: float | None = None
    with contextlib.suppress(ValueError):
        seconds = float(headers.get("retry-after-ms", "")) / 1000
    if seconds is None:
        value = headers.get("retry-after", "")
        try:
            seconds = float(value)
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
    if seconds is None or not math.isfinite(seconds):  # nan and inf: no usable answer
        return _BUSY_RETRY_AFTER_SECONDS
    return int(min(max(seconds, 1.0), _MAX_RETRY_AFTER_SECONDS))


def _short(text: str) -> str:
    # The server's own message goes into logs and errors: bounded, whatever it sends.
    return text if len(text) <= _MAX_SERVER_MESSAGE else f"{text[:_MAX_SERVER_MESSAGE]}…"


def as_engine_error(error: openai.OpenAIError) -> EngineError:
    """The bot's error for what the `openai` client raised (after its own retries)."""
    if isinstance(error, openai.APITimeoutError):  # before APIConnectionError: a subclass
        return GenerationTimeout(f"remote engine: no answer in time ({error})")
    if isinstance(error, openai.RateLimitError) or (
        isinstance(error, openai.APIStatusError) and error.status_code == 503
    ):
        # The server's queue is full (429), or it is overloaded for now (503, "likely to
        # be alleviated after some delay", RFC 9110 section 15.6.4): the user is told to
        # come back, as for our own queue.
        return EngineBusy(retry_after=_retry_after(error))
    if isinstance(error, openai.APIConnectionError):
        return ModelUnavailable(f"remote engine unreachable: {error}")
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return ModelUnavailable(f"remote engine refused the key (HTTP {error.status_code})")
    if isinstance(error, openai.NotFoundError):
        return ModelUnavailable(f"remote engine does not serve this model: {_short(error.message)}")
    if isinstance(error, openai.APIStatusError):
        return GenerationFailed(
            f"remote engine answered {error.status_code}: {_short(error.message)}"
        )
    return GenerationFailed(f"remote engine: {type(error).__name__}: {error}")


class RemoteEngine(EngineStatus):
    """Streams answers from an OpenAI-compatible chat completions server.

    Until the server answers, the engine keeps asking it (with the waits in
    `readiness_delays`) and reports "waiting for the model server at …" as its
    failure; it turns ready by itself when the server does. Once ready it keeps
    asking (every longest wait), and a request that cannot reach the server turns
    it back to waiting at once.

    Args:
        base_url: the server, e.g. `http://vllm:8000` (`/v1/...` is appended).
        model: the model name the server knows.
        api_key: sent as a bearer token when set.
        max_new_tokens: default answer length cap.
        context_window: prompt + answer budget the bot trims history to.
        max_in_flight: most requests sent at once; more get `EngineBusy`.
        readiness_delays: waits between readiness checks; empty checks once (a command).
        max_retries: the `openai` client's retries of one request.
        max_image_pixels: the pixel cap images are counted at (the server's own resize).

    Example:
        >>> engine = RemoteEngine("http://vllm:8000", "Qwen/Qwen3-VL-8B-Instruct")
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_new_tokens: int = 1024,
        context_window: int = 16384,
        max_in_flight: int = 64,
        readiness_delays: tuple[float, ...] = READINESS_DELAYS,
        max_retries: int = MAX_RETRIES,
        max_image_pixels: int = QWEN3_VL_MAX_PIXELS,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._shown = printable_url(self._base)
        self._model = model
        self._max_new_tokens = max_new_tokens
        self._context_window = context_window
        self._max_in_flight = max_in_flight
        self._delays = readiness_delays
        # No processor here: the published Qwen3-VL resize, as the eval counts a remote engine.
        self._image_rule = qwen3_vl_rule(max_image_pixels, source="Qwen3-VL defaults (remote)")
        # A server without keys accepts any bearer token; the client insists on one.
        self._client = openai.AsyncOpenAI(
            base_url=f"{self._base}/v1",
            api_key=api_key or "none",
            max_retries=max_retries,
            timeout=openai.Timeout(600.0, connect=5.0),
        )
        super().__init__()
        self._in_flight = 0
        self._watcher: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()  # set when a request finds the server gone

    @property
    def queue_depth(self) -> int:
        return self._in_flight

    @property
    def context_window(self) -> int:
        return self._context_window

    def cache_bytes(self) -> CacheBytes:
        return CacheBytes()  # the server holds its caches

    def count_tokens(self, request: GenerationRequest) -> int:
        """An estimate (no tokenizer here): ~3 characters a token, plus each image's tokens."""
        text = sum(
            len(p.text) for m in request.messages for p in m.parts if isinstance(p, TextPart)
        )
        images = sum(self._image_rule.image_tokens(image) for image in request.images)
        return text // 3 + images

    def _ready(self) -> bool:
        return self._state is EngineState.READY

    def _closed(self) -> bool:
        return self._state is EngineState.CLOSED

    @property
    def recoverable(self) -> bool:
        return True  # the engine keeps asking the server; each request asks it again

    async def _check(self) -> str | None:
        """One readiness check: None when the server lists its models, else the error."""
        try:
            # No retries here: the readiness loop has its own waits.
            await self._client.with_options(max_retries=0, timeout=10.0).models.list()
        except Exception as error:  # whatever the check raises, the server is not ready
            return _describe(error)
        if self._state is EngineState.CLOSED:
            return None
        if self._state is not EngineState.READY:
            log.info("remote engine at %s ready (model %s)", self._shown, self._model)
        self._state, self._failure, self._progress = EngineState.READY, None, None
        return None

    def _waiting(self, error: str, delay: float | None) -> None:
        if self._state is EngineState.CLOSED:
            return
        self._state = EngineState.FAILED
        answered = error.startswith("HTTP ")
        unreachable = f"remote engine at {self._shown} {'not ready' if answered else 'unreachable'}"
        if delay is None:  # a command: it reports, it does not wait
            self._failure = f"{unreachable} (last error {error})"
            return
        self._failure = (
            f"{unreachable}: waiting for the model server at {self._shown} "
            f"(last error {error}, next try in {delay:g} s)"
        )

    async def start(self) -> None:
        """Check the server once, then keep checking it in the background (a server).

        While it does not answer, at the waits in `readiness_delays`; while it does, every
        longest wait, so a server that dies after it was ready takes `/readyz` down with it.
        """
        if self._watcher is not None or self._state is EngineState.CLOSED:
            return
        error = await self._check()
        if error is not None:
            self._waiting(error, self._delays[0] if self._delays else None)
            log.warning("%s", self._failure)
        if self._delays and not self._closed():  # close() may have run meanwhile
            self._watcher = asyncio.create_task(self._keep_checking(), name="remote-readiness")

    async def _keep_checking(self) -> None:
        attempt = 0
        while self._state is not EngineState.CLOSED:
            if self._ready():
                attempt = 0
                delay = self._delays[-1]
            else:
                delay = self._delays[min(attempt, len(self._delays) - 1)]
                attempt += 1
            self._lost.clear()
            try:
                async with asyncio.timeout(delay):
                    await self._lost.wait()
                continue  # a request lost the server: wait again, from the first wait
            except TimeoutError:
                pass
            was_ready = self._ready()
            error = await self._check()
            if error is not None:
                self._waiting(error, self._delays[min(attempt, len(self._delays) - 1)])
                (log.warning if was_ready else log.info)("%s", self._failure)

    def _server_lost(self, error: openai.APIConnectionError) -> None:
        """A request found the server gone: not ready until a check finds it again."""
        if not self._ready():
            return
        self._waiting(_describe(error), self._delays[0] if self._delays else None)
        log.warning("%s", self._failure)
        self._lost.set()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Queued]:
        if not self._ready() and self._watcher is None:
            await self.start()  # a one-shot command: the server may have come up since
        if not self._ready():
            raise ModelUnavailable(self._failure or "remote engine not ready")
        if self._in_flight >= self._max_in_flight:
            raise EngineBusy(retry_after=_BUSY_RETRY_AFTER_SECONDS)
        self._in_flight += 1
        limit = request.generation_timeout
        deadline = None if limit is None else asyncio.get_running_loop().time() + limit
        pieces = self._completion(request)
        try:
            while True:
                # The deadline covers our waits on the server only, never a `yield`: a
                # timeout around a yield fires in the caller's code (posting to Slack) as a
                # bare cancellation of the caller's task.
                try:
                    async with asyncio.timeout_at(deadline):
                        piece = await anext(pieces)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise GenerationTimeout(f"answer not finished within {limit} s") from None
                yield piece
        finally:
            await pieces.aclose()
            self._in_flight -= 1

    async def _completion(self, request: GenerationRequest) -> AsyncGenerator[str, None]:
        try:
            stream = await self._client.chat.completions.create(
                model=self._model,
                stream=True,
                max_tokens=request.max_new_tokens or self._max_new_tokens,
                # Temperature 0 is greedy decoding on OpenAI-compatible servers (vLLM, TGI).
                temperature=0.0 if request.greedy else openai.omit,
                messages=cast(
                    "list[ChatCompletionMessageParam]",
                    [_as_openai(message) for message in request.messages],
                ),
            )
            async with stream:
                async for chunk in stream:
                    if chunk.choices and (text := chunk.choices[0].delta.content):
                        yield text
        except openai.OpenAIError as error:
            if isinstance(error, openai.APIConnectionError) and not isinstance(
                error, openai.APITimeoutError
            ):
                self._server_lost(error)
            raise as_engine_error(error) from error

    async def close(self) -> None:
        self._state = EngineState.CLOSED
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self._client.close()
