"""Share one turn's image budget between its screenshots, and say when text may be too small.

Each screenshot alone is shown at up to `per_image` pixels (the engine's
`MAX_IMAGE_PIXELS`, chosen so a screenshot's text stays legible). Several in one
message share `total` pixels: small ones take what they need and the rest split
what is left evenly. An image shrunk to less than `LEGIBLE_SCALE` of the size it
would have had alone may have text too small to read (`bot.attachments.legibility`,
the rule the eval uses too); that is reported, never silent.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image

from bot.attachments.legibility import LEGIBLE_SCALE as LEGIBLE_SCALE
from bot.attachments.legibility import legible_at_scale
from bot.engine.images import decode_for_model
from bot.turns import Screenshot


@dataclass(frozen=True)
class ImageBudget:
    """Pixels one screenshot may use alone, and all screenshots of one message together."""

    per_image: int = 1280 * 1024
    total: int = 4 * 1280 * 1024


@dataclass(frozen=True)
class FittedImage:
    """A screenshot as it will be shown, and its linear scale against showing it alone."""

    screenshot: Screenshot
    scale: float = 1.0

    @property
    def legible(self) -> bool:
        return legible_at_scale(self.scale)


def pixel_caps(sizes: list[int], budget: ImageBudget) -> list[int]:
    """Each image's pixel cap: `min(own size, per_image)` where the total allows, else fair shares.

    Example:
        >>> pixel_caps([100, 5_000, 5_000], ImageBudget(per_image=4_000, total=6_100))
        [100, 3000, 3000]
    """
    wanted = [min(size, budget.per_image) for size in sizes]
    if sum(wanted) <= budget.total:
        return wanted
    caps = [0] * len(sizes)
    left = budget.total
    pending = sorted(range(len(sizes)), key=lambda i: wanted[i])
    while pending:
        share = left // len(pending)
        index = pending[0]
        if wanted[index] <= share:
            caps[index] = wanted[index]
            left -= wanted[index]
            pending.pop(0)
            continue
        for index in pending:
            caps[index] = share
        break
    return caps


def fit_images(shots: list[Screenshot], budget: ImageBudget) -> list[FittedImage]:
    """The screenshots resized (only those over their share) to fit `budget` together."""
    sizes = [shot.width * shot.height for shot in shots]
    fitted = []
    for shot, size, cap in zip(shots, sizes, pixel_caps(sizes, budget), strict=True):
        alone = min(size, budget.per_image)
        if cap >= alone or size == 0:
            fitted.append(FittedImage(shot))
            continue
        fitted.append(FittedImage(_resized(shot, cap), scale=math.sqrt(cap / alone)))
    return fitted


def _resized(shot: Screenshot, pixels: int) -> Screenshot:
    factor = math.sqrt(pixels / (shot.width * shot.height))
    width = max(1, int(shot.width * factor))
    height = max(1, int(shot.height * factor))
    image = decode_for_model(shot.data).resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return Screenshot(
        filename=shot.filename,
        media_type="image/png",
        data=out.getvalue(),
        width=width,
        height=height,
    )
