"""A request may ask for greedy decoding (a transcription) while the model samples answers."""

from __future__ import annotations

import torch
from transformers import GenerationConfig

from bot.engine.sampling import TokenChooser

VOCAB = 64


def _logits(rows: int) -> torch.Tensor:
    # Nearly flat: sampling picks the likeliest token (7) about 3 times in 100.
    logits = torch.zeros((rows, VOCAB))
    logits[:, 7] = 0.5
    return logits


def test_greedy_rows_take_the_likeliest_token_beside_sampled_rows() -> None:
    torch.manual_seed(0)
    chooser = TokenChooser(GenerationConfig(do_sample=True, temperature=1.0, eos_token_id=1))
    picks = [chooser.choose(_logits(2), [True, True], [True, False]) for _ in range(40)]
    assert all(greedy == 7 for greedy, _ in picks)
    assert len({sampled for _, sampled in picks}) > 5  # the other row still samples
    assert all(chooser.choose(_logits(3), [True] * 3, [True] * 3) == [7] * 3 for _ in range(5))


def test_a_greedy_row_still_keeps_its_minimum_length() -> None:
    chooser = TokenChooser(GenerationConfig(do_sample=True, eos_token_id=7))
    # Token 7 ends the answer; a row short of its minimum length may not choose it.
    assert chooser.choose(_logits(1), [False], [True]) != [7]
