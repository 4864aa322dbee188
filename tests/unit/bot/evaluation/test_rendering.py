"""The generator: the same definitions give the same bytes, and it measures its own text.

Rendering needs the generator's fonts; without them these tests are skipped (the
shipped files and every other eval test need no fonts).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.evaluation.cases import EvalCase, load_set
from bot.evaluation.rendering import FONTS, render_case

MISSING_PACKAGES = sorted(
    {f.package for pair in FONTS.values() for f in pair if not Path(f.path).is_file()}
)
pytestmark = pytest.mark.skipif(
    bool(MISSING_PACKAGES),
    reason=f"the generator's fonts are missing: apt-get install {' '.join(MISSING_PACKAGES)}",
)


def _case(case_id: str) -> EvalCase:
    return next(case for case in load_set().cases if case.id == case_id)


@pytest.mark.parametrize(
    "case_id", ["py-module-not-found", "docker-no-space", "go-deadlock", "desktop-vpn-zh"]
)
def test_rendering_a_case_again_gives_the_committed_file(case_id: str) -> None:
    eval_set = load_set()
    case = _case(case_id)
    rendered = render_case(case)
    assert rendered.data == eval_set.image(case).read_bytes()
    assert rendered.smallest_line_px == eval_set.rendered[case_id].smallest_line_px


def test_twice_the_scale_draws_text_twice_as_tall() -> None:
    case = _case("py-module-not-found")
    double = dataclasses.replace(case, rendering=dataclasses.replace(case.rendering, scale=2))
    one, two = render_case(case), render_case(double)
    assert two.smallest_line_px == pytest.approx(2 * one.smallest_line_px, abs=1)
    assert two.width == pytest.approx(2 * one.width, rel=0.05)


def test_a_phone_photo_shrinks_the_text_it_reports() -> None:
    case = _case("docker-no-space")
    flat = dataclasses.replace(case, rendering=dataclasses.replace(case.rendering, effects=()))
    assert render_case(case).smallest_line_px < render_case(flat).smallest_line_px
    assert render_case(case).extension == "jpg" and render_case(flat).extension == "png"


def test_an_unknown_style_or_effect_is_refused() -> None:
    case = _case("py-module-not-found")
    with pytest.raises(ValueError, match="unknown style"):
        render_case(
            dataclasses.replace(case, rendering=dataclasses.replace(case.rendering, style="x"))
        )
    with pytest.raises(ValueError, match="unknown effect"):
        render_case(
            dataclasses.replace(case, rendering=dataclasses.replace(case.rendering, effects=("x",)))
        )
