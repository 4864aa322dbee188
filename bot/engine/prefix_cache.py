"""What a thread's last answer left in the cache, kept for its next question.

A follow-up's prompt starts with the previous prompt and answer, so the keys
and values computed for them (screenshots included) are still valid. The store
keeps one entry per thread, evicting the least recently used past a byte limit.
A hit is only as long as the tokens *and* the images agree: two screenshots of
the same size give the same placeholder tokens, so images are compared by digest.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from bot.engine.prefill_cache import tensor_bytes


@dataclass(frozen=True)
class CachedPrefix:
    """Keys and values for `token_ids`, shaped [1, heads, len(token_ids), dim] per layer."""

    token_ids: tuple[int, ...]
    image_digests: tuple[str, ...]
    tensors: list[tuple[torch.Tensor, torch.Tensor]]

    @property
    def nbytes(self) -> int:
        return tensor_bytes(self.tensors)


@dataclass(frozen=True)
class PrefixHit:
    """The first `length` tokens of a prompt are already computed."""

    length: int
    tensors: list[tuple[torch.Tensor, torch.Tensor]]


class PrefixStore:
    """Per-thread cached prefixes, bounded by bytes, least recently used evicted first.

    Args:
        max_bytes: total size of the keys and values kept; 0 turns reuse off.
    """

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, CachedPrefix] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0  # prompts that started from a cached prefix
        self.reused_tokens = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def keep(self, key: str, prefix: CachedPrefix) -> None:
        """Remember `prefix` for thread `key`, replacing what was there."""
        if prefix.nbytes > self._max_bytes:
            self.forget(key)
            return
        with self._lock:
            self._drop(key)
            self._entries[key] = prefix
            self._bytes += prefix.nbytes
            while self._bytes > self._max_bytes:
                self._drop(next(iter(self._entries)))

    def take(
        self,
        key: str,
        token_ids: Sequence[int],
        image_spans: Sequence[tuple[int, int]],
        image_digests: Sequence[str],
    ) -> PrefixHit | None:
        """Remove and return the usable part of `key`'s entry for a prompt, if any.

        `image_spans` are the [start, end) token ranges of the prompt's images, in
        order, and `image_digests` their contents. At least one prompt token is
        left to compute, since the model must see it to produce the next one.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._drop(key)
        if entry is None:
            return None
        length = _usable_length(entry, token_ids, image_spans, image_digests)
        if length <= 0:
            return None
        self.hits += 1
        self.reused_tokens += length
        return PrefixHit(
            length,
            [(keys[..., :length, :], values[..., :length, :]) for keys, values in entry.tensors],
        )

    def reusable(
        self,
        key: str,
        token_ids: Sequence[int],
        image_spans: Sequence[tuple[int, int]],
        image_digests: Sequence[str],
    ) -> int:
        """How many of the prompt's tokens `take` would hand back now (0: none), leaving
        the entry in place and counting no hit: what a request in line may skip."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return 0
        return max(0, _usable_length(entry, token_ids, image_spans, image_digests))

    def forget(self, key: str) -> None:
        with self._lock:
            self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.nbytes


def _usable_length(
    entry: CachedPrefix,
    token_ids: Sequence[int],
    image_spans: Sequence[tuple[int, int]],
    image_digests: Sequence[str],
) -> int:
    """The prompt's tokens `entry` holds: those it shares, up to the last image both hold
    whole (at least one prompt token is left to compute)."""
    length = min(_common_length(entry.token_ids, token_ids), len(token_ids) - 1)
    for index, (start, end) in enumerate(image_spans):
        if start >= length:
            break
        same = (
            index < len(entry.image_digests) and entry.image_digests[index] == image_digests[index]
        )
        if not same or end > length:  # another picture, or one only partly computed
            return start
    return length


def _common_length(cached: Sequence[int], prompt: Sequence[int]) -> int:
    length = 0
    for old, new in zip(cached, prompt, strict=False):
        if old != new:
            break
        length += 1
    return length
