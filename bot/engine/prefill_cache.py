"""The key/value cache a prefill writes: rows left-padded to one width.

A prefill runs a group of prompts (or one follow-up on top of its thread's
cached prefix) through the model once; the rows then move into the decode
cache's slots (`slot_cache`) and into the prefix store (`prefix_cache`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import DynamicCache
from transformers.cache_utils import Cache, DynamicLayer

GROWTH_STEP = 256  # columns added at a time: one allocation per 256 decode steps


class GrowingLayer(DynamicLayer):
    """One layer's keys and values in a buffer that grows in steps.

    `DynamicLayer` concatenates on every update, copying the whole cache each
    decode step; this writes the new column in place and hands back views.
    """

    def __init__(self, keys: torch.Tensor | None = None, values: torch.Tensor | None = None):
        super().__init__()  # type: ignore[no-untyped-call]
        self._key_buffer: torch.Tensor | None = None
        self._value_buffer: torch.Tensor | None = None
        self._length = 0
        if keys is not None and values is not None:
            self.update(keys, values)

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: object, **kwargs: object
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.device = key_states.device
            self.is_initialized = True
        added = key_states.shape[-2]
        end = self._length + added
        if self._key_buffer is None or end > self._key_buffer.shape[-2]:
            self._grow(key_states, value_states, end)
        assert self._key_buffer is not None and self._value_buffer is not None
        self._key_buffer[..., self._length : end, :] = key_states
        self._value_buffer[..., self._length : end, :] = value_states
        self._length = end
        self.keys = self._key_buffer[..., :end, :]
        self.values = self._value_buffer[..., :end, :]
        return self.keys, self.values

    def _grow(self, keys: torch.Tensor, values: torch.Tensor, needed: int) -> None:
        capacity = -(-needed // GROWTH_STEP) * GROWTH_STEP
        shape = (*keys.shape[:-2], capacity, keys.shape[-1])
        key_buffer = keys.new_empty(shape)
        value_buffer = values.new_empty(shape)
        if self._key_buffer is not None and self._value_buffer is not None:
            key_buffer[..., : self._length, :] = self._key_buffer[..., : self._length, :]
            value_buffer[..., : self._length, :] = self._value_buffer[..., : self._length, :]
        self._key_buffer, self._value_buffer = key_buffer, value_buffer

    def get_seq_length(self) -> int:
        return self._length

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("prefill caches are copied into slots, never cropped")


class GrowingCache(DynamicCache):
    """A cache whose layers are `GrowingLayer`s, one per decoder layer."""

    def __init__(self, layers: Sequence[GrowingLayer]) -> None:
        Cache.__init__(self, layers=list(layers))

    @classmethod
    def empty(cls, num_layers: int) -> GrowingCache:
        return cls([GrowingLayer() for _ in range(num_layers)])

    @classmethod
    def from_tensors(cls, tensors: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> GrowingCache:
        return cls([GrowingLayer(keys, values) for keys, values in tensors])

    def tensors(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each layer's keys and values, shaped [rows, heads, columns, dim]."""
        pairs: list[tuple[torch.Tensor, torch.Tensor]] = []
        for layer in self.layers:
            assert isinstance(layer, GrowingLayer) and layer.keys is not None
            assert layer.values is not None
            pairs.append((layer.keys, layer.values))
        return pairs


def tensor_bytes(tensors: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> int:
    return sum(keys.nbytes + values.nbytes for keys, values in tensors)
