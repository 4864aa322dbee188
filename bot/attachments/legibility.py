"""The one legibility rule: a text line under `MIN_LEGIBLE_PX` tall, as the model sees it.

The eval judges each screenshot's smallest line after the engine's resize by it
(`bot.evaluation.legibility`); the image budget judges a screenshot shrunk to share
one message's pixels by it (`bot.attachments.image_budget`), taking the smallest
line a screenshot carries at the engine's own size to be `SMALLEST_LINE_ALONE_PX`.
"""

from __future__ import annotations

# A line this tall spans well under one 16-px patch of Qwen3-VL; the threshold is a
# judgement (see docs/eval.md, "Legibility").
MIN_LEGIBLE_PX = 10.0

# The smallest text line a screenshot carries when shown at the engine's own size
# (`MAX_IMAGE_PIXELS` is chosen so that it is legible): a 12 px UI font's line. With it,
# a screenshot shrunk under 70% of that size has text under `MIN_LEGIBLE_PX`.
SMALLEST_LINE_ALONE_PX = MIN_LEGIBLE_PX / 0.7

LEGIBLE_SCALE = MIN_LEGIBLE_PX / SMALLEST_LINE_ALONE_PX
"""The linear shrink, against showing a screenshot alone, below which its text is too small."""


def legible(line_px: float) -> bool:
    """Whether a text line `line_px` tall, in the pixels the model sees, can be read.

    Example:
        >>> legible(10.0), legible(9.9)
        (True, False)
    """
    return line_px >= MIN_LEGIBLE_PX


def legible_at_scale(scale: float) -> bool:
    """Whether a screenshot shrunk by `scale` (linear, against alone) keeps its text legible."""
    return legible(SMALLEST_LINE_ALONE_PX * scale)
