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

# The one image-token rule, shared with the local and the remote engine.
from bot.engine.image_tokens import ResizeRule as ResizeRule
from bot.engine.image_tokens import published_smart_resize as published_smart_resize
from bot.engine.image_tokens import qwen3_vl_rule as qwen3_vl_rule
from bot.engine.image_tokens import rule_from_processor

log = logging.getLogger(__name__)


def rule_for_model(model_id: str, max_image_pixels: int) -> ResizeRule:
    """The resize the in-process engine applies for `model_id`, read from its image processor.

    Falls back to Qwen3-VL's published values when the processor cannot be loaded.
    """
    try:
        from transformers import AutoImageProcessor

        # Only what is on disk already: the engine downloads the model, this never waits on a hub.
        processor = AutoImageProcessor.from_pretrained(model_id, local_files_only=True)
        return rule_from_processor(
            processor, max_image_pixels, source=f"{model_id} image processor"
        )
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
        tokens=rule.tokens(width, height),
    )
