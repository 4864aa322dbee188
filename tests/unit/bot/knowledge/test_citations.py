"""An answer's citation markers: `[1]` and its full-width forms, read once, in order, only
for passages the prompt held."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.knowledge.citations import (
    FULL_WIDTH_CLOSERS,
    FULL_WIDTH_DIGITS,
    FULL_WIDTH_OPENERS,
    cited,
    normalise_citations,
)

LENTICULAR = "\u3010{}\u3011"  # what Qwen and other models write in Chinese
FULL_WIDTH = "\uff3b{}\uff3d"
PASSAGES = ["a", "b", "c"]

# Every form a character of a marker may take: the ASCII one first.
_FORMS = {
    "[": "[" + FULL_WIDTH_OPENERS,
    "]": "]" + FULL_WIDTH_CLOSERS,
    **{str(digit): str(digit) + FULL_WIDTH_DIGITS[digit] for digit in range(10)},
}
ANSWERS = st.text(
    alphabet=st.sampled_from(
        [*"[]0123456789 x,。", *FULL_WIDTH_OPENERS, *FULL_WIDTH_CLOSERS, *FULL_WIDTH_DIGITS]
    )
    | st.characters(),
    max_size=300,
)


def test_full_width_markers_cite_as_ascii_ones_do() -> None:
    answer = (
        f"把 `pool_size = 256` 写进配置{LENTICULAR.format(2)}，然后重启服务"
        f"{FULL_WIDTH.format(1)}，见{FULL_WIDTH.format(FULL_WIDTH_DIGITS[3])}。"
    )
    assert cited(answer, PASSAGES) == (2, 1, 3)
    assert cited(answer, PASSAGES) == cited("写进配置[2]，然后重启服务[1]，见[3]。", PASSAGES)


def test_full_width_markers_past_the_passages_or_zero_are_no_citations() -> None:
    answer = f"{LENTICULAR.format(0)} {FULL_WIDTH.format(7)} {LENTICULAR.format('123')} 【注意】"
    assert cited(answer, PASSAGES) == ()


@given(ANSWERS, st.lists(st.integers(0, 3), min_size=300, max_size=300))
def test_any_mix_of_forms_cites_what_the_ascii_answer_cites(
    answer: str, choices: list[int]
) -> None:
    styled = "".join(
        forms[choice % len(forms)] if (forms := _FORMS.get(ch)) else ch
        for ch, choice in zip(answer, choices, strict=False)
    )
    assert cited(styled, PASSAGES) == cited(answer, PASSAGES)
    assert normalise_citations(styled) == normalise_citations(answer)


@given(ANSWERS)
def test_normalising_keeps_every_position_and_is_done_once(answer: str) -> None:
    normal = normalise_citations(answer)
    assert len(normal) == len(answer)
    assert normalise_citations(normal) == normal
    assert all(a == b or b in "[]0123456789" for a, b in zip(answer, normal, strict=True))


@given(
    st.lists(
        st.tuples(
            st.text(st.characters(exclude_characters="[]" + "".join(_FORMS["["] + _FORMS["]"]))),
            st.integers(0, 120),
            st.sampled_from(["[{}]", LENTICULAR, FULL_WIDTH]),
        ),
        max_size=20,
    )
)
def test_the_citations_are_the_markers_in_range_in_order_each_once(
    parts: list[tuple[str, int, str]],
) -> None:
    answer = "".join(filler + form.format(number) for filler, number, form in parts)
    expected = tuple(dict.fromkeys(n for _, n, _ in parts if 1 <= n <= len(PASSAGES)))
    assert cited(answer, PASSAGES) == expected
