"""How tall the smallest text line is in the pixels the model sees, after the engine's resize.

The in-process engine hands each screenshot to the model's image processor with
its pixel cap lowered to `MAX_IMAGE_PIXELS`; Qwen's processor then scales the
image (keeping its aspect) so both sides are multiples of the patch grid and the
area fits between its minimum and that cap (`smart_resize`). Text shrinks by the
same factor, so a line drawn 14 px tall in a 2880x1800 screenshot reaches the
model about 7 px tall at the default cap.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

# The one legibility rule, shared with the image budget of the answer path.
from bot.attachments.legibility import MIN_LEGIBLE_PX as MIN_LEGIBLE_PX
from bot.attachments.legibility import legible

log = logging.getLogger(__name__)

# Qwen3-VL's image processor (preprocessor_config.json of Qwen/Qwen3-VL-8B-Instruct):
# 16-px patches merged 2x2, so sides are multiples of 32; at least 65,536 pixels.
QWEN3_VL_FACTOR = 32
QWEN3_VL_MIN_PIXELS = 65_536
QWEN3_VL_MAX_PIXELS = 16_777_216


@dataclass(frozen=True)
class ResizeRule:
    """The engine's resize: sides in multiples of `factor`, area in [min_pixels, max_pixels]."""

    factor: int
    min_pixels: int
    max_pixels: int
    source: str  # where the numbers come from, for the report

    def input_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the image as the model receives it."""
        # Qwen's arithmetic without importing transformers (seconds; absent from a slim
        # replica): the unit tests hold it equal to transformers' own `smart_resize`.
        new_height, new_width = published_smart_resize(
            height,
            width,
            factor=self.factor,
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
        )
        return int(new_width), int(new_height)

    def tokens(self, width: int, height: int) -> int:
        """Image tokens the model spends on it (one per factor x factor square)."""
        new_width, new_height = self.input_size(width, height)
        return (new_width // self.factor) * (new_height // self.factor)


def published_smart_resize(
    height: int, width: int, *, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """Qwen2-VL's `smart_resize` (transformers, `image_processing_qwen2_vl.py`), step for step.

    Kept here so that the eval of a remote engine needs no transformers;
    `tests/unit/bot/evaluation/test_legibility.py` holds it equal to transformers' own.
    """
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"absolute aspect ratio must be smaller than 200, got {height}x{width}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def qwen3_vl_rule(max_image_pixels: int, *, source: str = "Qwen3-VL defaults") -> ResizeRule:
    return ResizeRule(
        QWEN3_VL_FACTOR,
        QWEN3_VL_MIN_PIXELS,
        min(QWEN3_VL_MAX_PIXELS, max_image_pixels),
        source,
    )


def rule_for_model(model_id: str, max_image_pixels: int) -> ResizeRule:
    """The resize the in-process engine applies for `model_id`, read from its image processor.

    Falls back to Qwen3-VL's published values when the processor cannot be loaded.
    """
    try:
        from transformers import AutoImageProcessor

        # Only what is on disk already: the engine downloads the model, this never waits on a hub.
        processor = AutoImageProcessor.from_pretrained(model_id, local_files_only=True)
        size = processor.size
        factor = int(processor.patch_size) * int(processor.merge_size)
        longest = size.get("longest_edge") or size.get("max_pixels") or QWEN3_VL_MAX_PIXELS
        shortest = size.get("shortest_edge") or size.get("min_pixels") or QWEN3_VL_MIN_PIXELS
        # The engine lowers the processor's cap to MAX_IMAGE_PIXELS, never raises it.
        cap = min(int(longest), max_image_pixels)
        return ResizeRule(factor, min(int(shortest), cap), cap, f"{model_id} image processor")
    except Exception as error:  # any load failure: say so, and use the published values
        log.warning("could not read the image processor of %s (%s)", model_id, error)
        return qwen3_vl_rule(max_image_pixels, source="Qwen3-VL defaults (processor not loaded)")


@dataclass(frozen=True)
class Legibility:
    """One screenshot's smallest text line, before and after the resize."""

    width: int
    height: int
    input_width: int
    input_height: int
    smallest_line_px: float  # in the screenshot
    input_line_px: float  # as the model sees it
    tokens: int

    @property
    def too_small(self) -> bool:
        return not legible(self.input_line_px)


def legibility(rule: ResizeRule, *, width: int, height: int, smallest_line_px: float) -> Legibility:
    input_width, input_height = rule.input_size(width, height)
    # smart_resize keeps the aspect up to rounding; the geometric mean of both scales
    # is the linear shrink text suffers.
    scale = math.sqrt((input_width / width) * (input_height / height))
    return Legibility(
        width=width,
        height=height,
        input_width=input_width,
        input_height=input_height,
        smallest_line_px=smallest_line_px,
        input_line_px=round(smallest_line_px * scale, 1),
        tokens=(input_width // rule.factor) * (input_height // rule.factor),
    )
