"""The decode cache: one fixed slot per running request, written in place.

Every running request owns a slot (a row of preallocated key/value buffers)
and keeps its tokens in the slot's first columns. A decode step writes one
column per slot at that slot's own position, so rows of any length share one
step, and a request that joins or leaves touches only its own slot: nothing
is copied or re-padded. The buffers keep their address between steps, which
is what a captured CUDA graph needs; so do the step's inputs, staged into
fixed buffers (`StaticInputs`) with one copy per step.

A step runs over the first `bucket` slots (a power of two) and attends the
first `attended` columns (a power of two times `COLUMN_STEP`), so a compiled
or captured decoder sees a handful of shapes; free slots inside the bucket
decode a throwaway token into their own column 0.

The engine reserves the whole pool once at start-up (`reserve`), sized from a
memory budget (`pool_columns`); a reserved pool never moves, so graphs
captured against it stay valid for the life of the process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch

COLUMN_STEP = 1024  # columns are added (and attended) in steps of this many


class StepShape(NamedTuple):
    """What fixes a decode step's shapes: rows in its bucket and columns it attends."""

    bucket: int
    attended: int


def bucket_for(rows: int) -> int:
    """The smallest power of two holding `rows`: the batch shapes the decoder sees."""
    return 1 << max(0, rows - 1).bit_length()


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def width_for(columns_needed: int, columns: int) -> int:
    """Columns a step attends: `COLUMN_STEP` times a power of two, at most `columns`.

    Powers of two keep the shapes to capture few (five up to 16,384 columns)
    while a step reads at most twice the columns in use.
    """
    steps = -(-columns_needed // COLUMN_STEP)
    return min(COLUMN_STEP * bucket_for(steps), max(columns, COLUMN_STEP))


def widths_up_to(columns: int) -> list[int]:
    """Every width `width_for` can give for a pool of `columns` columns."""
    widths = {
        width_for(step * COLUMN_STEP, columns) for step in range(1, columns // COLUMN_STEP + 1)
    }
    return sorted(widths)


def pool_columns(*, budget_bytes: int, slots: int, bytes_per_column: int, needed: int) -> int:
    """Columns per slot a pool of `slots` rows gets: what `needed` asks, or what the budget holds.

    Whole `COLUMN_STEP`s only; raises `ValueError` when the budget holds not even one.
    """
    affordable = budget_bytes // max(1, slots * bytes_per_column)
    columns = min(_round_up(needed, COLUMN_STEP), affordable // COLUMN_STEP * COLUMN_STEP)
    if columns < COLUMN_STEP:
        raise ValueError(
            f"a key/value pool of {budget_bytes} bytes holds {affordable} columns for "
            f"{slots} slots, fewer than {COLUMN_STEP}; raise KV_CACHE_BYTES or lower MAX_BATCH"
        )
    return columns


@dataclass
class StepInputs:
    """What one decode step feeds the decoder for the first `bucket` slots (views, no copies)."""

    bucket: int
    write_at: torch.Tensor  # [bucket] column each slot writes this step
    attention_mask: torch.Tensor  # [bucket, 1, 1, columns] True where a slot may attend


@dataclass
class MixedWrites:
    """Where each token of a mixed step's packed sequence writes: [tokens] slots and columns."""

    slots: torch.Tensor
    columns: torch.Tensor


STAGED_ROWS = 6  # token id, text position, three rope positions, write column


class StaticInputs:
    """The device buffers a decode step reads, at one address until the cache grows.

    The host fills `host_for(bucket)` and copies it to `staged_for(bucket)` in
    one transfer before the step; the step only takes views of those and of
    `columns`, so a captured CUDA graph replays with whatever the host staged
    last. The spare host buffer takes the next step, prepared while a step
    runs, without touching the one a non-blocking copy may still be reading.
    Each buffer is flat and a bucket's [rows, bucket] block is its first
    rows * bucket values: a strided block (`[:, :bucket]` of [rows, slots])
    would make the copy go through a pageable temporary and wait for the host.
    """

    def __init__(self, slots: int, columns: int, device: torch.device) -> None:
        pinned = device.type == "cuda"  # a pinned source lets the copy run without a host wait
        size = STAGED_ROWS * slots
        self._host = torch.zeros(size, dtype=torch.long, pin_memory=pinned)
        self._spare = torch.zeros(size, dtype=torch.long, pin_memory=pinned)
        self._staged = torch.zeros(size, dtype=torch.long, device=device)
        self.columns = torch.arange(columns, device=device)

    def host_for(self, bucket: int) -> torch.Tensor:
        """[rows, bucket] host block the next copy sends."""
        return _block(self._host, bucket)

    def spare_for(self, bucket: int) -> torch.Tensor:
        """[rows, bucket] block of the host buffer not being sent."""
        return _block(self._spare, bucket)

    def swap(self) -> None:
        """The spare host buffer (prepared meanwhile) is the one sent next."""
        self._host, self._spare = self._spare, self._host

    def staged_for(self, bucket: int) -> torch.Tensor:
        """[rows, bucket] device block the step reads."""
        return _block(self._staged, bucket)

    def ids(self, bucket: int) -> torch.Tensor:
        """[bucket, 1] token each slot feeds."""
        return self.staged_for(bucket)[0].unsqueeze(1)

    def positions(self, bucket: int) -> torch.Tensor:
        """[4, bucket, 1] text and rope positions of each slot's token."""
        return self.staged_for(bucket)[1:5].unsqueeze(-1)

    def write_at(self, bucket: int) -> torch.Tensor:
        """[bucket] column each slot writes."""
        return self.staged_for(bucket)[5]


def _block(flat: torch.Tensor, bucket: int) -> torch.Tensor:
    return flat[: STAGED_ROWS * bucket].view(STAGED_ROWS, bucket)


class SlotCache:
    """Keys and values of every running request, one slot each, for all decoder layers.

    The decoder calls `update(keys, values, layer)` once per layer; it writes
    the step's column at each slot's position and hands back the columns the
    step attends to. Buffers grow (slots to a power of two, columns in steps of
    `COLUMN_STEP`) only when a request needs more room than they have.
    """

    def __init__(self, layers: int) -> None:
        self._layers = layers
        self._keys: list[torch.Tensor] = []
        self._values: list[torch.Tensor] = []
        self.lengths: dict[int, int] = {}  # slot -> tokens it holds
        self.joining: dict[int, int] = {}  # slot -> prompt tokens written so far (not decoding)
        self.step: StepInputs | None = None
        self.mixed: MixedWrites | None = None  # set for the length of a mixed step
        self._staged: tuple[int, tuple[int, ...]] | None = None  # (bucket, slots) of the step
        self._prepared: tuple[int, tuple[int, ...]] | None = None  # what `spare` holds next
        self._moves = torch.zeros(0, dtype=torch.long)  # [6, bucket] added to prepare the next
        self._running = torch.zeros(0, dtype=torch.long)  # the staged step's running slots
        self.inputs: StaticInputs | None = None
        # Counts reallocations: anything holding the buffers' addresses (a
        # captured graph) is stale once this changes.
        self.generation = 0
        self.fixed = False  # reserved once: never grown, moved or released

    # ----- shape -----

    @property
    def slots(self) -> int:
        return 0 if not self._keys else self._keys[0].shape[0]

    @property
    def columns(self) -> int:
        return 0 if not self._keys else self._keys[0].shape[2]

    def buffers(self) -> list[torch.Tensor]:
        """Every layer's key and value buffer, [slots, heads, columns, dim]."""
        return [*self._keys, *self._values]

    def nbytes(self) -> int:
        return sum(buffer.nbytes for buffer in self.buffers())

    def release(self) -> None:
        """Give the buffers back (out of memory, or nothing running)."""
        if self.lengths or self.joining:
            raise RuntimeError("cannot release a cache with running rows")
        if self.fixed:
            raise RuntimeError("a reserved pool is kept for the life of the engine")
        self._keys, self._values = [], []
        self.inputs = None
        self.generation += 1

    def reserve(self, like: torch.Tensor, slots: int, columns: int) -> None:
        """Allocate the whole pool now (start-up, before capture); it never moves after.

        A row that would need more slots or columns than the pool holds is refused.
        """
        self._ensure(like, slots, columns)
        self.fixed = True

    # ----- rows joining and leaving -----

    def add(
        self, rows: Sequence[tuple[torch.Tensor, torch.Tensor]], lengths: Sequence[int]
    ) -> list[int]:
        """Copy prefilled rows (left-padded, layer by layer) into free slots; return the slots.

        Room for each row's next column is made now, so the step after never grows.
        """
        longest = max([*self.lengths.values(), *lengths]) + 1
        self._ensure(rows[0][0], self._taken() + len(lengths), longest)
        chosen = self._free()[: len(lengths)]
        for (row_keys, row_values), keys, values in zip(
            rows, self._keys, self._values, strict=True
        ):
            for index, (slot, length) in enumerate(zip(chosen, lengths, strict=True)):
                keys[slot, :, :length] = row_keys[index, :, -length:]
                values[slot, :, :length] = row_values[index, :, -length:]
        for slot, length in zip(chosen, lengths, strict=True):
            self.lengths[slot] = length
        self._prepared = None
        return chosen

    def remove(self, slots: Sequence[int]) -> None:
        """Free `slots`; their columns are simply overwritten by the next owner."""
        for slot in slots:
            if self.joining.pop(slot, None) is None:
                del self.lengths[slot]
        self._prepared = None

    def claim(
        self, prefix: Sequence[tuple[torch.Tensor, torch.Tensor]] | None, held: int, total: int
    ) -> int:
        """Take a free slot for a prompt prefilled into it chunk by chunk; return the slot.

        `prefix` (a thread's cached rows, `held` columns) is copied in first;
        room for `total` columns (the whole prompt and its first decode column)
        is made now. The slot decodes only once `joined`.
        """
        self._ensure(self._keys[0], self._taken() + 1, max([total, *self.lengths.values()]) + 1)
        slot = self._free()[0]
        if prefix is not None and held:
            for (row_keys, row_values), keys, values in zip(
                prefix, self._keys, self._values, strict=True
            ):
                keys[slot, :, :held] = row_keys[0, :, -held:]
                values[slot, :, :held] = row_values[0, :, -held:]
        self.joining[slot] = held
        self._prepared = None
        return slot

    def joined(self, slot: int) -> None:
        """A claimed slot holds its whole prompt: it decodes from the next step on."""
        self.lengths[slot] = self.joining.pop(slot)
        self._prepared = None

    def forget_prepared(self) -> None:
        """Rows moved outside a decode step (a mixed step): the prepared next step is stale."""
        self._prepared = None

    def _taken(self) -> int:
        return len(self.lengths) + len(self.joining)

    def _free(self) -> list[int]:
        return [s for s in range(self.slots) if s not in self.lengths and s not in self.joining]

    def row(self, slot: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A copy of one slot's keys and values, layer by layer, shaped [1, heads, n, dim]."""
        length = self.lengths[slot]
        return [
            (keys[slot : slot + 1, :, :length].clone(), values[slot : slot + 1, :, :length].clone())
            for keys, values in zip(self._keys, self._values, strict=True)
        ]

    def _ensure(self, like: torch.Tensor, slots: int, columns: int) -> None:
        """Grow the buffers to hold `slots` rows of `columns` columns, keeping what they hold."""
        slots = max(bucket_for(slots), self.slots)
        columns = max(_round_up(columns, COLUMN_STEP), self.columns)
        if slots == self.slots and columns == self.columns:
            return
        if self.fixed:
            raise RuntimeError(
                f"the key/value pool holds {self.slots} slots of {self.columns} columns; "
                f"this needs {slots} of {columns}"
            )
        shape = (slots, like.shape[1], columns, like.shape[3])
        # Allocate everything before touching the old buffers: running out of
        # memory half-way must leave the running rows as they were.
        grown_keys = [like.new_zeros(shape) for _ in range(self._layers)]
        grown_values = [like.new_zeros(shape) for _ in range(self._layers)]
        # An empty cache has no old buffers to copy: `zip` stops at the shorter list.
        for old, grown in ((self._keys, grown_keys), (self._values, grown_values)):
            for old_tensor, tensor in zip(old, grown, strict=False):
                tensor[: old_tensor.shape[0], :, : old_tensor.shape[2]] = old_tensor
        self._keys, self._values = grown_keys, grown_values
        self.inputs = StaticInputs(slots, columns, like.device)
        self._prepared = None
        self.generation += 1

    # ----- one decode step -----

    def begin_step(self, feeds: Mapping[int, tuple[int, int, int]], pad_token: int) -> StepShape:
        """Stage the next step's inputs for the bucket holding every running slot.

        `feeds` maps each running slot to (token id, text position, rope
        position); free slots in the bucket feed `pad_token` at position 0 and
        write their own column 0. Growing the buffers, if a row needs a column
        more, happens here, so the step itself never allocates cache memory.
        """
        highest = max(self.lengths) + 1
        bucket = bucket_for(highest)
        lengths = [self.lengths.get(slot, 0) for slot in range(bucket)]
        self._ensure(self._keys[0], bucket, max(lengths) + 1)
        assert self.inputs is not None
        running = tuple(feeds)
        if self._prepared == (bucket, running):
            # Prepared while the last step ran: only the tokens it chose are new.
            self.inputs.swap()
            host = self.inputs.host_for(bucket)
            tokens = torch.tensor([feeds[slot][0] for slot in running])
            host[0].index_copy_(0, self._running, tokens)
        else:
            ids, texts, ropes = [pad_token] * bucket, [0] * bucket, [0] * bucket
            moving = [0] * bucket
            for slot, (token, text, rope) in feeds.items():
                ids[slot], texts[slot], ropes[slot] = token, text, rope
                moving[slot] = 1
            writes = list(lengths)
            for slot in self.joining:  # a slot being prefilled keeps its columns
                if slot < bucket:
                    writes[slot] = self.scratch_column
            host = self.inputs.host_for(bucket)
            host.copy_(torch.tensor([ids, texts, ropes, ropes, ropes, writes]))
            # What the next step adds for the same rows: one position and one column each.
            self._moves = torch.tensor([[0] * bucket, *[moving] * 5])
            self._running = torch.tensor(running, dtype=torch.long)
        self._staged, self._prepared = (bucket, running), None
        # One transfer per step. A host buffer is written again only after the
        # step's tokens were read back, which waits for this copy.
        self.inputs.staged_for(bucket).copy_(host, non_blocking=True)
        return StepShape(bucket, width_for(max(lengths) + 1, self.columns))

    def bind(self, shape: StepShape) -> StepInputs:
        """The step's inputs as views of the staged buffers, the mask computed on the device.

        Nothing here reads a value back to the host or sizes anything by a
        tensor's contents, so it can run inside a captured CUDA graph.
        """
        assert self.inputs is not None, "begin_step() first"
        bucket, attended = shape
        write_at = self.inputs.write_at(bucket)
        columns = self.inputs.columns[:attended]
        mask = (columns.unsqueeze(0) <= write_at.unsqueeze(1)).view(bucket, 1, 1, attended)
        self.step = StepInputs(bucket, write_at, mask)
        return self.step

    def end_step(self) -> None:
        """The step ran: every running slot holds one more token."""
        for slot in self.lengths:
            self.lengths[slot] += 1
        self.step = None

    def prepare_next(self) -> None:
        """Stage the step after this one in the spare host buffer, for the same rows.

        Runs while the device still computes this step (between launching it
        and reading its tokens back): every running row's positions and write
        column move on by one; `begin_step` then only writes the new tokens,
        or stages from scratch if the rows changed meanwhile.
        """
        if self._staged is None or self.inputs is None:
            return
        bucket = self._staged[0]
        torch.add(self.inputs.host_for(bucket), self._moves, out=self.inputs.spare_for(bucket))
        self._prepared, self._staged = self._staged, None

    @property
    def scratch_column(self) -> int:
        """A column no row's tokens ever occupy while it is written as a throwaway.

        The last column: a prompt ends before it (the context window is at
        most `columns - 1`), so a slot being prefilled can write a placeholder
        there, and a row that decodes that far writes it before reading it.
        """
        return self.columns - 1

    def update(
        self,
        key_states: torch.Tensor,
        value_states: torch.Tensor,
        layer_idx: int,
        *args: object,
        **kwargs: object,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write this step's column for every slot in the bucket; return what it attends to.

        In a mixed step (`mixed` set) every packed token's keys and values go
        to its own (slot, column), and the whole buffers are handed back: the
        mixed step's attention takes each part's slots and columns from them.
        """
        keys, values = self._keys[layer_idx], self._values[layer_idx]
        if self.mixed is not None:
            slots, columns = self.mixed.slots, self.mixed.columns
            keys[slots, :, columns] = key_states[0].transpose(0, 1)
            values[slots, :, columns] = value_states[0].transpose(0, 1)
            return keys, values
        step = self.step
        assert step is not None, "update() outside a decode step"
        rows, heads, _, dim = key_states.shape
        attended = step.attention_mask.shape[-1]
        index = step.write_at.view(rows, 1, 1, 1).expand(rows, heads, 1, dim)
        keys[:rows].scatter_(2, index, key_states)
        values[:rows].scatter_(2, index, value_states)
        return keys[:rows, :, :attended], values[:rows, :, :attended]
