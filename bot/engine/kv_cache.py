"""The key/value cache of the running batch: rows of different lengths, left-padded.

Every row's real tokens are the last `lengths[i]` columns, so a decode step
writes one column for all rows at once and the attention mask follows from the
lengths alone. Rows join (a prefilled request) and leave (a finished one)
between steps; leaving trims the columns nobody uses any more.
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

    def truncate(self, length: int) -> None:
        """Forget columns past `length` (a step that failed half-way wrote some)."""
        if self._key_buffer is None or self._value_buffer is None or length >= self._length:
            return
        self._length = length
        self.keys = self._key_buffer[..., :length, :]
        self.values = self._value_buffer[..., :length, :]

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("rows are cut with BatchCache, not cropped in place")


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


class BatchCache:
    """The cache of every running row, with each row's real length.

    Row `i` holds real keys in its last `lengths[i]` columns; the columns before
    them are padding, masked out of attention.
    """

    def __init__(self) -> None:
        self.cache: GrowingCache | None = None
        self.lengths: list[int] = []

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def width(self) -> int:
        return 0 if self.cache is None else self.cache.get_seq_length()

    def attention_mask(self, new_columns: int, device: torch.device | str) -> torch.Tensor:
        """The 2D mask for a step that adds `new_columns` to every row."""
        width = self.width + new_columns
        lengths = torch.tensor(self.lengths, device=device).unsqueeze(1) + new_columns
        columns = torch.arange(width, device=device).unsqueeze(0)
        return (columns >= width - lengths).long()

    def stepped(self, columns: int = 1) -> None:
        """Every row grew by `columns` in the forward pass that just ran."""
        self.lengths = [length + columns for length in self.lengths]

    def add(self, rows: GrowingCache, lengths: Sequence[int]) -> None:
        """Append rows (left-padded to their own width) below the running ones."""
        if self.cache is None:
            self.cache, self.lengths = rows, list(lengths)
            return
        width = max(self.width, rows.get_seq_length())
        merged = [
            (
                torch.cat([_pad_left(old_keys, width), _pad_left(new_keys, width)]),
                torch.cat([_pad_left(old_values, width), _pad_left(new_values, width)]),
            )
            for (old_keys, old_values), (new_keys, new_values) in zip(
                self.cache.tensors(), rows.tensors(), strict=True
            )
        ]
        self.cache = GrowingCache.from_tensors(merged)
        self.lengths = [*self.lengths, *lengths]

    def rewind(self, width: int) -> None:
        """Undo the columns a failed forward pass added to some layers."""
        if self.cache is not None:
            for layer in self.cache.layers:
                assert isinstance(layer, GrowingLayer)
                layer.truncate(width)

    def keep(self, rows: Sequence[int]) -> None:
        """Keep only `rows` (in that order); drop columns no kept row uses."""
        if not rows:
            self.cache, self.lengths = None, []
            return
        assert self.cache is not None
        lengths = [self.lengths[row] for row in rows]
        start = self.width - max(lengths)
        tensors = self.cache.tensors()
        index = torch.tensor(list(rows), device=tensors[0][0].device)
        kept = [
            (
                keys.index_select(0, index)[..., start:, :],
                values.index_select(0, index)[..., start:, :],
            )
            for keys, values in tensors
        ]
        self.cache = GrowingCache.from_tensors(kept)
        self.lengths = lengths

    def row(self, row: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A copy of one row's real keys and values, layer by layer, shaped [1, heads, n, dim]."""
        assert self.cache is not None
        length = self.lengths[row]
        return [
            (
                keys[row : row + 1, :, -length:, :].clone(),
                values[row : row + 1, :, -length:, :].clone(),
            )
            for keys, values in self.cache.tensors()
        ]


def _pad_left(tensor: torch.Tensor, width: int) -> torch.Tensor:
    missing = width - tensor.shape[-2]
    if missing == 0:
        return tensor
    padding = tensor.new_zeros((*tensor.shape[:-2], missing, tensor.shape[-1]))
    return torch.cat([padding, tensor], dim=-2)


def tensor_bytes(tensors: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> int:
    return sum(keys.nbytes + values.nbytes for keys, values in tensors)
