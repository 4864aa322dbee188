"""One legibility rule: the eval and the image budget judge the same shrink alike."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.attachments.image_budget import FittedImage
from bot.attachments.legibility import (
    LEGIBLE_SCALE,
    MIN_LEGIBLE_PX,
    SMALLEST_LINE_ALONE_PX,
    legible,
)
from bot.evaluation.legibility import Legibility
from bot.turns import Screenshot

_SHOT = Screenshot("a.png", "image/png", b"", 1280, 1024)


def test_the_threshold_is_ten_pixels_and_a_seventy_percent_shrink() -> None:
    assert legible(MIN_LEGIBLE_PX) and not legible(MIN_LEGIBLE_PX - 0.1)
    assert LEGIBLE_SCALE == 0.7
    assert FittedImage(_SHOT, scale=0.7).legible and not FittedImage(_SHOT, scale=0.69).legible


@given(st.floats(min_value=0.05, max_value=1.0))
def test_the_eval_and_the_image_budget_agree_on_a_shrunk_screenshot(scale: float) -> None:
    seen = Legibility(
        width=1280,
        height=1024,
        input_width=round(1280 * scale),
        input_height=round(1024 * scale),
        smallest_line_px=SMALLEST_LINE_ALONE_PX,
        input_line_px=SMALLEST_LINE_ALONE_PX * scale,
        tokens=0,
    )
    assert seen.too_small == (not FittedImage(_SHOT, scale=scale).legible)
