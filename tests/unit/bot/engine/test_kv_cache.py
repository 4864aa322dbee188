"""The batch cache: rows of different lengths left-padded, joined and removed between steps."""

from __future__ import annotations

import torch

from bot.engine.kv_cache import BatchCache, GrowingCache, GrowingLayer


def _rows(*lengths: int, layers: int = 2) -> GrowingCache:
    """Rows whose real keys are their row number + 1, left-padded with zeros."""
    width = max(lengths)
    keys = torch.zeros((len(lengths), 1, width, 2))
    for row, length in enumerate(lengths):
        keys[row, :, width - length :, :] = row + 1
    return GrowingCache.from_tensors([(keys, keys.clone()) for _ in range(layers)])


def test_rows_joining_are_padded_on_the_left_and_masked() -> None:
    batch = BatchCache()
    batch.add(_rows(3), [3])
    batch.add(_rows(5, 2), [5, 2])
    assert batch.width == 5
    assert batch.attention_mask(1, "cpu").tolist() == [
        [0, 0, 1, 1, 1, 1],
        [1, 1, 1, 1, 1, 1],
        [0, 0, 0, 1, 1, 1],
    ]
    keys = batch.cache.tensors()[0][0]  # type: ignore[union-attr]
    assert keys[0, 0, :, 0].tolist() == [0, 0, 1, 1, 1]


def test_leaving_rows_drop_the_columns_nobody_uses() -> None:
    batch = BatchCache()
    batch.add(_rows(6, 2, 3), [6, 2, 3])
    batch.keep([2, 1])
    assert batch.lengths == [3, 2] and batch.width == 3
    keys = batch.cache.tensors()[1][0]  # type: ignore[union-attr]
    assert keys[:, 0, :, 0].tolist() == [[3, 3, 3], [0, 2, 2]]
    assert batch.row(1)[0][0].shape == (1, 1, 2, 2)
    batch.keep([])
    assert len(batch) == 0 and batch.width == 0


def test_a_layer_grows_in_steps_and_a_failed_step_can_be_undone() -> None:
    layer = GrowingLayer(torch.ones((1, 1, 4, 2)), torch.ones((1, 1, 4, 2)))
    keys, _ = layer.update(torch.full((1, 1, 1, 2), 7.0), torch.full((1, 1, 1, 2), 7.0))
    assert keys.shape[-2] == 5 and keys[0, 0, -1, 0] == 7
    layer.truncate(4)
    assert layer.get_seq_length() == 4 and layer.keys.shape[-2] == 4  # type: ignore[union-attr]
