"""A fake OpenAI-compatible `/v1/embeddings` over real HTTP, refusing what the API refuses.

OpenAI API reference, "Create embeddings"
(https://platform.openai.com/docs/api-reference/embeddings/create):

- `model` is required; a model the server does not serve is 404 `model_not_found`;
- `input` is a string or an array of strings (token arrays are not sent by the bot and
  are refused here); it "cannot be an empty string, and any array must be 2048
  dimensions or less": an empty array, an empty string or 2,049 inputs are 400;
- `encoding_format` is `float` (lists of numbers) or `base64` (little-endian float32);
- the answer is `{"object": "list", "data": [{"object": "embedding", "index": i,
  "embedding": [...]}], "model": ..., "usage": {...}}`;
- errors are `{"error": {"message", "type", "param", "code"}}` with 400, 401 (a wrong
  or missing bearer key), 404, 429 and 5xx
  (https://platform.openai.com/docs/guides/error-codes).

Vectors are a hashed bag of words, so texts that share words are near each other
and the same text always gets the same vector.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MAX_INPUTS = 2048
DIMENSION = 64
_WORD = re.compile(r"\w+")


def vector_of(text: str) -> list[float]:
    """The fake model's embedding of `text` (not normalised, as some servers answer)."""
    out = np.zeros(DIMENSION, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        slot = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
        out[slot % DIMENSION] += 1.0
    out[0] += 0.01  # never all zero: a real model's vector never is
    return [float(x) * 3.0 for x in out]


def _error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


def _unauthorised() -> JSONResponse:
    return _error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")


@dataclass
class FakeEmbeddings:
    """The server's state, set and read by the test."""

    models: tuple[str, ...] = ("embed-small",)
    api_key: str | None = None
    # (status, headers) answered to the next requests instead of embeddings, in order.
    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # The number of inputs of each accepted request.
    batches: list[int] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self._models),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            ]
        )

    def _authorised(self, request: Request) -> bool:
        return self.api_key is None or request.headers.get("authorization") == (
            f"Bearer {self.api_key}"
        )

    async def _models(self, request: Request) -> JSONResponse:
        if not self._authorised(request):
            return _unauthorised()
        data = [{"id": name, "object": "model", "owned_by": "fake"} for name in self.models]
        return JSONResponse({"object": "list", "data": data})

    async def _embeddings(self, request: Request) -> JSONResponse:
        if not self._authorised(request):
            return _unauthorised()
        if self.failures:
            status, headers = self.failures.pop(0)
            response = _error(status, f"refused with {status}", "server_error")
            response.headers.update(headers)
            return response
        try:
            body: Any = json.loads(await request.body())
        except ValueError:
            return _error(400, "We could not parse the JSON body", "invalid_request_error")
        if not isinstance(body, dict):
            return _error(400, "The body must be a JSON object", "invalid_request_error")
        refused = self._refusal(body)
        if refused is not None:
            return refused
        inputs = [body["input"]] if isinstance(body["input"], str) else body["input"]
        self.batches.append(len(inputs))
        self.seen += inputs
        data = []
        for index, text in enumerate(inputs):
            vector = vector_of(text)
            embedding: Any = vector
            if body.get("encoding_format") == "base64":
                embedding = base64.b64encode(np.asarray(vector, "<f4").tobytes()).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(len(text.split()) for text in inputs)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        answer = {"object": "list", "data": data, "model": body["model"], "usage": usage}
        return JSONResponse(answer)

    def _refusal(self, body: dict[str, Any]) -> JSONResponse | None:
        invalid = "invalid_request_error"
        if "model" not in body:
            return _error(400, "you must provide a model parameter", invalid)
        if body["model"] not in self.models:
            return _error(
                404, f"The model `{body['model']}` does not exist", invalid, "model_not_found"
            )
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(text, str) for text in inputs):
            return _error(400, "'input' must be a string or an array of strings", invalid)
        if not inputs:
            return _error(400, "'input' cannot be an empty array", invalid)
        if len(inputs) > MAX_INPUTS:
            return _error(400, f"'input' must have at most {MAX_INPUTS} items", invalid)
        if any(text == "" for text in inputs):
            return _error(400, "'input' cannot contain an empty string", invalid)
        if body.get("encoding_format", "float") not in ("float", "base64"):
            return _error(400, "'encoding_format' must be float or base64", invalid)
        return None
