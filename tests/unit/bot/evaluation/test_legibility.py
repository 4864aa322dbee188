"""Legibility: the resize it assumes is the image processor's own, and small text is flagged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from transformers import Qwen2VLImageProcessor

from bot.evaluation.cases import load_set
from bot.evaluation.legibility import (
    MIN_LEGIBLE_PX,
    ResizeRule,
    legibility,
    published_smart_resize,
    qwen3_vl_rule,
    rule_for_model,
)
from bot.evaluation.reporting import legibility_table


@pytest.mark.parametrize(
    ("width", "height", "cap"),
    [
        (1000, 304, 1280 * 1024),
        (3840, 2160, 1280 * 1024),
        (2880, 1800, 786_432),
        (500, 90, 4_000_000),
    ],
)
def test_the_input_size_is_what_the_image_processor_produces(
    width: int, height: int, cap: int
) -> None:
    processor = Qwen2VLImageProcessor(
        patch_size=16, temporal_patch_size=2, merge_size=2, min_pixels=65_536, max_pixels=cap
    )
    grid = processor(images=[Image.new("RGB", (width, height))], return_tensors="pt")[
        "image_grid_thw"
    ][0]
    rule = ResizeRule(32, 65_536, cap, "test")
    assert rule.input_size(width, height) == (int(grid[2]) * 16, int(grid[1]) * 16)
    assert rule.tokens(width, height) == int(grid[1] * grid[2]) // 4


def test_the_rule_is_read_from_a_checkpoints_processor_and_capped_by_max_image_pixels(
    tiny_checkpoint: object,
) -> None:
    rule = rule_for_model(str(tiny_checkpoint), 1280 * 1024)
    # The tiny checkpoint's processor caps at 128*128, below MAX_IMAGE_PIXELS: its cap wins.
    assert (rule.factor, rule.max_pixels) == (32, 128 * 128)
    assert "image processor" in rule.source


def test_an_unloadable_model_falls_back_to_qwen3_vl_values_and_says_so(tmp_path: object) -> None:
    rule = rule_for_model(str(tmp_path), 1_000_000)
    assert (rule.factor, rule.max_pixels) == (32, 1_000_000)
    assert "not loaded" in rule.source


def test_a_full_4k_screen_with_small_text_is_flagged_at_the_default_cap() -> None:
    seen = legibility(qwen3_vl_rule(1280 * 1024), width=3840, height=2160, smallest_line_px=13)
    assert seen.input_line_px < MIN_LEGIBLE_PX and seen.too_small
    roomy = legibility(qwen3_vl_rule(3840 * 2160), width=3840, height=2160, smallest_line_px=13)
    assert not roomy.too_small


def test_a_small_screenshot_is_not_shrunk() -> None:
    seen = legibility(qwen3_vl_rule(1280 * 1024), width=800, height=400, smallest_line_px=12)
    assert seen.input_line_px == pytest.approx(12, abs=0.6)


def test_raising_the_cap_never_flags_more_cases() -> None:
    eval_set = load_set()
    flagged = []
    for cap in (512 * 512, 1280 * 1024, 2560 * 1600, 4096 * 2160):
        rule = qwen3_vl_rule(cap)
        flagged.append(
            sum(
                legibility(
                    rule, width=r.width, height=r.height, smallest_line_px=r.smallest_line_px
                ).too_small
                for r in eval_set.rendered.values()
            )
        )
    assert flagged == sorted(flagged, reverse=True)
    assert flagged[0] > flagged[-1]
    assert "MAX_IMAGE_PIXELS" in legibility_table(eval_set, [qwen3_vl_rule(1280 * 1024)])


@given(
    width=st.integers(min_value=1, max_value=12_000),
    height=st.integers(min_value=1, max_value=12_000),
    max_pixels=st.integers(min_value=65_536, max_value=16_777_216),
)
def test_the_published_resize_used_without_transformers_equals_transformers_own(
    width: int, height: int, max_pixels: int
) -> None:
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    options = {"factor": 32, "min_pixels": 65_536, "max_pixels": max_pixels}
    try:
        expected: tuple[int, int] | str = smart_resize(height, width, **options)
    except ValueError:
        expected = "refused"
    try:
        ours: tuple[int, int] | str = published_smart_resize(height, width, **options)
    except ValueError:
        ours = "refused"
    assert ours == expected
