"""Vision encodings of recent screenshots, kept by content so one is encoded once.

The same screenshot reaches the engine more than once: the short pass that
transcribes a bare screenshot's error line and then the diagnosis itself, a
follow-up whose thread's prefix is no longer resident, a retry. The vision
encoder is the largest part of a screenshot's prefill, so its output (the
image embeddings and the DeepStack features of the early layers) is kept by
the image's content digest, least recently used first out, within a byte
budget. vLLM keeps multimodal encoder outputs by content hash for the same
reason. An encoding depends only on the pixels the processor made, which the
digest of the original bytes fixes (the resize rule is the engine's own).
The model thread and the thread encoding screenshots ahead (`encode_ahead`)
both use it, so every call holds its lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Encoding:
    """One image's vision encoding: [tokens, hidden] embeddings and, per early layer,
    the [tokens, hidden] DeepStack features added to those tokens."""

    embeds: torch.Tensor
    deepstack: tuple[torch.Tensor, ...]

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.embeds, *self.deepstack))


class EncoderCache:
    """Encodings by image digest, at most `capacity_bytes` of them (0: keep none).

    Example:
        >>> cache = EncoderCache(capacity_bytes=1024)
        >>> cache.put("d1", Encoding(torch.zeros(2, 4), (torch.zeros(2, 4),)))
        >>> cache.get("d1").embeds.shape, cache.nbytes
        (torch.Size([2, 4]), 64)
    """

    def __init__(self, capacity_bytes: int) -> None:
        self._capacity = capacity_bytes
        self._entries: OrderedDict[str, Encoding] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: str) -> Encoding | None:
        with self._lock:
            found = self._entries.get(digest)
            if found is not None:
                self._entries.move_to_end(digest)
            return found

    def __contains__(self, digest: object) -> bool:
        """Whether `digest` is kept, without counting as a use."""
        with self._lock:
            return digest in self._entries

    def put(self, digest: str, encoding: Encoding) -> None:
        """Keep `encoding`, dropping the least recently used ones to make room; one larger
        than the whole budget is not kept."""
        size = encoding.nbytes
        if size > self._capacity:
            return
        with self._lock:
            old = self._entries.pop(digest, None)
            if old is not None:
                self._bytes -= old.nbytes
            while self._entries and self._bytes + size > self._capacity:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes
            self._entries[digest] = encoding
            self._bytes += size


@dataclass(eq=False)
class HeldEncodings:
    """The encodings made ahead for one request, by digest, until its prefill takes them."""

    encodings: dict[str, Encoding]

    @property
    def nbytes(self) -> int:
        return sum(encoding.nbytes for encoding in self.encodings.values())
