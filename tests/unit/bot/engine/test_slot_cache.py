"""The decode cache: one slot per request, each written at its own position."""

from __future__ import annotations

import pytest
import torch

from bot.engine.prefill_cache import GrowingCache, GrowingLayer
from bot.engine.slot_cache import COLUMN_STEP, SlotCache, StepInputs, bucket_for


def _rows(*lengths: int, layers: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Prefilled rows whose real keys are their row number + 1, left-padded with zeros."""
    width = max(lengths)
    keys = torch.zeros((len(lengths), 1, width, 2))
    for row, length in enumerate(lengths):
        keys[row, :, width - length :, :] = row + 1
    return GrowingCache.from_tensors([(keys, keys.clone()) for _ in range(layers)]).tensors()


def _begin(cache: SlotCache) -> StepInputs:
    """Stage and bind a step in which every running slot feeds token 0."""
    feeds = {slot: (0, length, length) for slot, length in cache.lengths.items()}
    return cache.bind(cache.begin_step(feeds, pad_token=0))


def _step(cache: SlotCache, value: float) -> None:
    """One decode step in which every slot in the bucket writes `value`."""
    step = _begin(cache)
    column = torch.full((step.bucket, 1, 1, 2), value)
    for layer in range(2):
        cache.update(column, column, layer)
    cache.end_step()


def test_buckets_are_powers_of_two() -> None:
    assert [bucket_for(rows) for rows in (1, 2, 3, 4, 5, 9, 32)] == [1, 2, 4, 4, 8, 16, 32]


def test_prefilled_rows_move_into_slots_without_their_padding() -> None:
    cache = SlotCache(layers=2)
    assert cache.add(_rows(3), [3]) == [0]
    assert cache.add(_rows(5, 2), [5, 2]) == [1, 2]
    assert cache.lengths == {0: 3, 1: 5, 2: 2}
    assert cache.slots == 4 and cache.columns == COLUMN_STEP
    keys = cache.row(2)[0][0]
    assert keys.shape == (1, 1, 2, 2) and keys[0, 0, :, 0].tolist() == [2, 2]


def test_a_step_writes_each_slot_at_its_own_position_and_masks_the_rest() -> None:
    cache = SlotCache(layers=2)
    cache.add(_rows(3, 1), [3, 1])
    step = _begin(cache)
    assert step.bucket == 2 and step.write_at.tolist() == [3, 1]
    mask = step.attention_mask[:, 0, 0, :5].tolist()
    assert mask == [[True, True, True, True, False], [True, True, False, False, False]]
    column = torch.full((2, 1, 1, 2), 9.0)
    keys, _ = cache.update(column, column, 0)
    assert keys.shape == (2, 1, COLUMN_STEP, 2)
    assert keys[0, 0, :5, 0].tolist() == [1, 1, 1, 9, 0]
    assert keys[1, 0, :3, 0].tolist() == [2, 9, 0]
    cache.update(column, column, 1)
    cache.end_step()
    assert cache.lengths == {0: 4, 1: 2}


def test_a_free_slot_is_reused_and_empty_slots_in_the_bucket_attend_only_column_zero() -> None:
    cache = SlotCache(layers=2)
    cache.add(_rows(2, 2, 2), [2, 2, 2])
    cache.remove([1])
    step = _begin(cache)
    assert step.bucket == 4 and step.write_at.tolist() == [2, 0, 2, 0]
    assert step.attention_mask[1, 0, 0, :3].tolist() == [True, False, False]
    assert cache.add(_rows(4), [4]) == [1]  # the lowest free slot, overwritten in full
    assert cache.row(1)[1][1][0, 0, :, 0].tolist() == [1, 1, 1, 1]


def test_buffers_grow_keeping_what_they_hold() -> None:
    cache = SlotCache(layers=2)
    cache.add(_rows(COLUMN_STEP - 1), [COLUMN_STEP - 1])
    assert cache.columns == COLUMN_STEP
    _step(cache, 7.0)  # fills the last column
    _step(cache, 8.0)  # needs a column past the buffer
    assert cache.columns == 2 * COLUMN_STEP and cache.lengths == {0: COLUMN_STEP + 1}
    keys = cache.row(0)[0][0][0, 0, :, 0]
    assert keys[:3].tolist() == [1, 1, 1] and keys[-2:].tolist() == [7, 8]
    cache.add(_rows(1, 1), [1, 1])
    assert cache.slots == 4 and cache.row(0)[1][0][0, 0, -1, 0] == 8


def test_memory_is_released_only_when_no_row_needs_it() -> None:
    cache = SlotCache(layers=2)
    cache.add(_rows(3), [3])
    assert cache.nbytes() == 2 * 2 * 1 * COLUMN_STEP * 2 * 4
    with pytest.raises(RuntimeError, match="running rows"):
        cache.release()
    cache.remove([0])
    cache.release()
    assert cache.nbytes() == 0 and cache.slots == 0


def test_a_prefill_layer_grows_in_steps() -> None:
    layer = GrowingLayer(torch.ones((1, 1, 4, 2)), torch.ones((1, 1, 4, 2)))
    keys, _ = layer.update(torch.full((1, 1, 1, 2), 7.0), torch.full((1, 1, 1, 2), 7.0))
    assert keys.shape[-2] == 5 and keys[0, 0, -1, 0] == 7


def _staging(cache: SlotCache, feeds: dict[int, tuple[int, int, int]]) -> list[list[int]]:
    """The rows a step stages: token, text position, three rope positions, write column."""
    bucket = bucket_for(max(cache.lengths) + 1)
    rows = [[7] * bucket, [0] * bucket, [0] * bucket, [0] * bucket, [0] * bucket, [0] * bucket]
    for slot in range(bucket):
        if slot in cache.joining:
            rows[5][slot] = cache.scratch_column
    for slot, (token, text, rope) in feeds.items():
        rows[0][slot], rows[1][slot] = token, text
        rows[2][slot] = rows[3][slot] = rows[4][slot] = rope
        rows[5][slot] = cache.lengths[slot]
    return rows


def test_the_next_step_prepared_during_a_step_stages_what_staging_afresh_would() -> None:
    cache = SlotCache(layers=2)
    cache.add(_rows(3, 5, 4), [3, 5, 4])
    joiner = cache.claim(None, 0, 40)  # a slot being prefilled: it writes only its scratch
    texts = {slot: length for slot, length in cache.lengths.items()}
    for step, token in enumerate([11, 12, 13, 14, 15]):
        if step == 3:  # a row leaves: what was prepared for the old rows is not used
            cache.remove([1])
            del texts[1]
        feeds = {slot: (token + slot, text, text + 2) for slot, text in texts.items()}
        expected = _staging(cache, feeds)
        assert cache.inputs is not None
        host = cache.inputs.host_for(1).data_ptr()
        shape = cache.begin_step(feeds, pad_token=7)
        assert cache.inputs.staged_for(shape.bucket).tolist() == expected
        # the prepared buffer is taken unless the rows changed (first step, a row left)
        assert (cache.inputs.host_for(1).data_ptr() != host) == (step not in (0, 3))
        assert expected[5][joiner] == cache.scratch_column
        cache.end_step()
        cache.prepare_next()  # as the runner does while the step's tokens come back
        texts = {slot: text + 1 for slot, text in texts.items()}


def test_a_step_smaller_than_the_pool_is_staged_and_sent_as_one_contiguous_block() -> None:
    """A strided source or target would send the copy through a pageable temporary."""
    cache = SlotCache(layers=2)
    cache.reserve(torch.zeros(1, 1, 1, 2), slots=8, columns=64)
    cache.add(_rows(3, 5), [3, 5])
    feeds = {slot: (20 + slot, text, text) for slot, text in cache.lengths.items()}
    shape = cache.begin_step(feeds, pad_token=7)
    assert cache.inputs is not None and shape.bucket < cache.slots
    for block in (cache.inputs.host_for(shape.bucket), cache.inputs.staged_for(shape.bucket)):
        assert block.shape == (6, shape.bucket) and block.is_contiguous()
    assert cache.inputs.staged_for(shape.bucket).tolist() == _staging(cache, feeds)


def test_a_claimed_slot_holds_its_prefix_and_decodes_only_once_joined() -> None:
    cache = SlotCache(layers=2)
    cache.add(_rows(3), [3])
    prefix = _rows(4)
    slot = cache.claim(prefix, 4, 30)
    assert slot == 1 and cache.joining == {1: 4} and 1 not in cache.lengths
    assert cache.row(0)[0][0].shape[2] == 3
    assert cache._keys[0][1, 0, :4, 0].tolist() == [1, 1, 1, 1]
    assert cache.add(_rows(2), [2]) == [2]  # a claimed slot is not handed out again
    cache.joining[slot] = 30
    cache.joined(slot)
    assert cache.lengths[slot] == 30 and not cache.joining
    cache.remove([slot])
    assert slot not in cache.lengths
