"""An engine that sends the same prompts, images included, to an OpenAI-compatible server.

For a company that outgrows one GPU: vLLM, SGLang, TGI or `transformers serve`
run the model (and batch it) elsewhere; the bot streams `/v1/chat/completions`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from bot.engine.images import sniff_image_type
from bot.engine.protocol import CacheBytes, EngineState, EngineStatus
from bot.engine.request import ChatMessage, GenerationRequest, ImagePart, Queued, TextPart
from bot.errors import EngineBusy, GenerationFailed, GenerationTimeout, ModelUnavailable

log = logging.getLogger(__name__)


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


class RemoteEngine(EngineStatus):
    """Streams answers from an OpenAI-compatible chat completions server.

    Args:
        base_url: the server, e.g. `http://vllm:8000` (`/v1/...` is appended).
        model: the model name the server knows.
        api_key: sent as a bearer token when set.
        max_new_tokens: default answer length cap.
        context_window: prompt + answer budget the bot trims history to.
        max_in_flight: most requests sent at once; more get `EngineBusy`.
        client: the httpx client (its transport decides where requests go).
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
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._max_new_tokens = max_new_tokens
        self._context_window = context_window
        self._max_in_flight = max_in_flight
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=5.0))
        super().__init__()
        self._in_flight = 0

    @property
    def queue_depth(self) -> int:
        return self._in_flight

    @property
    def context_window(self) -> int:
        return self._context_window

    def cache_bytes(self) -> CacheBytes:
        return CacheBytes()  # the server holds its caches

    def count_tokens(self, request: GenerationRequest) -> int:
        """An estimate (no tokenizer here): ~3 characters a token, plus each image's patches."""
        text = sum(
            len(p.text) for m in request.messages for p in m.parts if isinstance(p, TextPart)
        )
        images = sum(max(1, image.width * image.height // (32 * 32)) for image in request.images)
        return text // 3 + images

    def _ready(self) -> bool:
        return self._state is EngineState.READY

    @property
    def recoverable(self) -> bool:
        return True  # each request asks the server again

    async def start(self) -> None:
        try:
            response = await self._client.get(f"{self._base}/v1/models", headers=self._headers)
            response.raise_for_status()
            self._state, self._failure = EngineState.READY, None
            log.info("remote engine at %s ready (model %s)", self._base, self._model)
        except httpx.HTTPError as error:
            self._state = EngineState.FAILED
            self._failure = f"remote engine at {self._base} unreachable: {type(error).__name__}"
            log.error("%s", self._failure)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str | Queued]:
        if not self._ready():
            await self.start()  # the server may have come up since
            if not self._ready():
                raise ModelUnavailable(self._failure or "remote engine not ready")
        if self._in_flight >= self._max_in_flight:
            raise EngineBusy(retry_after=10)
        self._in_flight += 1
        try:
            async with asyncio.timeout(request.generation_timeout):
                async for piece in self._completion(request):
                    yield piece
        except TimeoutError:
            raise GenerationTimeout(
                f"answer not finished within {request.generation_timeout} s"
            ) from None
        finally:
            self._in_flight -= 1

    async def _completion(self, request: GenerationRequest) -> AsyncIterator[str]:
        body = {
            "model": self._model,
            "stream": True,
            "max_tokens": request.max_new_tokens or self._max_new_tokens,
            "messages": [_as_openai(message) for message in request.messages],
        }
        try:
            async with self._client.stream(
                "POST", f"{self._base}/v1/chat/completions", json=body, headers=self._headers
            ) as response:
                if response.status_code != 200:
                    detail = (await response.aread()).decode(errors="replace")[:200]
                    raise GenerationFailed(
                        f"remote engine answered {response.status_code}: {detail}"
                    )
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line.removeprefix("data:").strip()
                    if data == "[DONE]":
                        return
                    choices = json.loads(data).get("choices") or [{}]
                    if text := (choices[0].get("delta") or {}).get("content"):
                        yield text
        except httpx.HTTPError as error:
            raise GenerationFailed(f"remote engine: {type(error).__name__}: {error}") from error

    async def close(self) -> None:
        self._state = EngineState.CLOSED
        await self._client.aclose()
