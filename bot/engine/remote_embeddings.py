"""Sentence embeddings from the same OpenAI-compatible server that runs the model.

`EMBEDDING_MODEL=remote:<name>` with `ENGINE_URL` set: the knowledge index asks
`POST /v1/embeddings` (OpenAI API reference, "Create embeddings":
https://platform.openai.com/docs/api-reference/embeddings/create) through the
`openai` client, the one `remote.py` streams answers with, so a slim replica loads
no embedding model of its own. vLLM, SGLang and TGI serve the same route.

The documented rules the requests keep: `input` is a string or an array of at most
2,048 strings, none empty; `model` is required; the answer's `data[i].embedding`
belongs to `input[data[i].index]`. Errors come back as `{"error": {...}}` with 400,
401, 404, 429 or 5xx and are mapped onto the bot's tree by `as_engine_error`.

Called from worker threads (the index embeds off the event loop), hence the
synchronous client. Importable without torch or transformers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import openai

from bot.engine.remote import MAX_RETRIES, as_engine_error
from bot.errors import GenerationFailed
from bot.printable_urls import printable_url

Vectors = npt.NDArray[np.float32]

# The API's cap on inputs per request ("any array must be 2048 dimensions or less").
MAX_INPUTS_PER_REQUEST = 2048
# Chunks are at most 1,200 characters (~400 tokens): 128 of them stay far under the
# API's 300,000 tokens summed over one request, and a failed batch costs little.
DEFAULT_BATCH = 128
REMOTE_PREFIX = "remote:"


class RemoteEmbedder:
    """Embeds texts with `/v1/embeddings` of an OpenAI-compatible server, L2-normalised.

    Blank texts are not sent (the API refuses an empty string): they get the zero
    vector, which matches nothing.

    Args:
        base_url: the server, e.g. `http://vllm:8000` (`/v1/embeddings` is appended).
        model: the embedding model's name on that server.
        api_key: sent as a bearer token when set.
        batch_size: texts per request, at most `MAX_INPUTS_PER_REQUEST`.
        max_retries: the `openai` client's retries of one request (429, 5xx, connection).
        timeout: seconds one request may take.

    Example:
        >>> embedder = RemoteEmbedder("http://vllm:8000", "BAAI/bge-m3")
        >>> embedder.embed_query("vault token expired").shape
        (1024,)
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        batch_size: int = DEFAULT_BATCH,
        max_retries: int = MAX_RETRIES,
        timeout: float = 60.0,
    ) -> None:
        if not 1 <= batch_size <= MAX_INPUTS_PER_REQUEST:
            raise ValueError(f"batch_size must be 1 to {MAX_INPUTS_PER_REQUEST}")
        base = base_url.rstrip("/")
        self._model = model
        self._batch = batch_size
        self._shown = printable_url(base)
        self._dimension: int | None = None
        # A server without keys accepts any bearer token; the client insists on one.
        self._client = openai.OpenAI(
            base_url=f"{base}/v1",
            api_key=api_key or "none",
            max_retries=max_retries,
            timeout=openai.Timeout(timeout, connect=5.0),
        )

    @property
    def name(self) -> str:
        # The index re-embeds every document when this changes (sync compares it).
        return f"{REMOTE_PREFIX}{self._model}"

    def embed_passages(self, texts: list[str]) -> Vectors:
        return self._embed(texts)

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self._embed([text])[0]
        return vector

    def close(self) -> None:
        self._client.close()

    def _embed(self, texts: list[str]) -> Vectors:
        wanted = [i for i, text in enumerate(texts) if text.strip()]
        found: dict[int, Vectors] = {}
        for start in range(0, len(wanted), self._batch):
            batch = wanted[start : start + self._batch]
            for i, vector in zip(batch, self._request([texts[i] for i in batch]), strict=True):
                found[i] = vector
        if self._dimension is None:
            if not texts:
                return np.zeros((0, 0), dtype=np.float32)
            self._request(["dimension"])  # only blank texts so far: learn the width once
        assert self._dimension is not None
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for i, vector in found.items():
            out[i] = vector
        return out

    def _request(self, inputs: list[str]) -> list[Vectors]:
        try:
            answer = self._client.embeddings.create(
                model=self._model, input=inputs, encoding_format="float"
            )
        except openai.OpenAIError as error:
            raise as_engine_error(error) from error
        by_index = {item.index: item.embedding for item in answer.data}
        widths = {len(vector) for vector in by_index.values()}
        if sorted(by_index) != list(range(len(inputs))) or len(widths) != 1:
            raise GenerationFailed(
                f"embeddings from {self._shown}: {len(answer.data)} vectors "
                f"of widths {sorted(widths)[:3]} for {len(inputs)} inputs"
            )
        matrix = np.asarray([by_index[i] for i in range(len(inputs))], dtype=np.float32)
        if not matrix.shape[1] or not np.isfinite(matrix).all():
            raise GenerationFailed(f"embeddings from {self._shown}: not finite vectors")
        if self._dimension is None:
            self._dimension = int(matrix.shape[1])
        elif matrix.shape[1] != self._dimension:
            raise GenerationFailed(
                f"embeddings from {self._shown}: width {matrix.shape[1]}, was {self._dimension}"
            )
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = matrix / np.maximum(norms, 1e-12)  # cosine by dot product, as in the index
        return list(matrix.astype(np.float32, copy=False))
