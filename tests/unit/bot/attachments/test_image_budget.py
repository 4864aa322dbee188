"""Several screenshots share one message's pixel budget, and too-small text is reported."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from bot.attachments.image_budget import LEGIBLE_SCALE, ImageBudget, fit_images, pixel_caps
from bot.conversation.turns import Screenshot


def _shot(name: str, width: int, height: int) -> Screenshot:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, format="PNG")
    return Screenshot(name, "image/png", out.getvalue(), width, height)


@given(
    st.lists(st.integers(min_value=1, max_value=10**7), min_size=1, max_size=12),
    st.integers(min_value=1000, max_value=10**7),
    st.integers(min_value=1000, max_value=10**8),
)
def test_caps_never_exceed_the_budget_and_are_fair(sizes: list[int], per: int, total: int) -> None:
    caps = pixel_caps(sizes, ImageBudget(per_image=per, total=total))
    wanted = [min(size, per) for size in sizes]
    assert all(cap <= want for cap, want in zip(caps, wanted, strict=True))
    if sum(wanted) <= total:
        assert caps == wanted
        return
    assert sum(caps) <= total
    shrunk = {cap for cap, want in zip(caps, wanted, strict=True) if cap < want}
    assert len(shrunk) == 1, "every image that is cut gets the same share"
    share = shrunk.pop()
    assert all(want <= share for cap, want in zip(caps, wanted, strict=True) if cap == want)
    assert total - sum(caps) < len(sizes), "the budget is used up to rounding"


def test_one_screenshot_is_left_to_the_engine_and_many_share() -> None:
    budget = ImageBudget(per_image=400 * 300, total=2 * 400 * 300)
    [alone] = fit_images([_shot("a.png", 800, 600)], budget)
    assert alone.scale == 1.0 and alone.screenshot.width == 800  # the engine resizes it itself

    two = fit_images([_shot("a.png", 800, 600), _shot("b.png", 800, 600)], budget)
    assert [f.scale for f in two] == [1.0, 1.0]

    six = fit_images([_shot(f"{n}.png", 800, 600) for n in range(6)], budget)
    assert [f.screenshot.filename for f in six] == [f"{n}.png" for n in range(6)]
    for fitted in six:
        shot = fitted.screenshot
        assert shot.width * shot.height <= 2 * 400 * 300 // 6
        assert fitted.scale < LEGIBLE_SCALE and not fitted.legible
        with Image.open(io.BytesIO(shot.data)) as image:
            assert image.size == (shot.width, shot.height)


def test_a_small_image_takes_only_what_it_needs() -> None:
    budget = ImageBudget(per_image=400 * 300, total=400 * 300 + 100 * 100)
    small, large = fit_images([_shot("icon.png", 100, 100), _shot("big.png", 800, 600)], budget)
    assert small.scale == 1.0
    assert large.scale == 1.0  # the large one still gets its full per-image size
