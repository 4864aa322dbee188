"""Assistant-container pieces: thread titles from any question, prompts in both languages."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.messages import Language
from handlers.slack.assistant import TITLE_LENGTH, suggested_prompts, thread_title


@given(st.text())
def test_a_title_is_one_short_line_whatever_the_question(question: str) -> None:
    title = thread_title(question)
    assert len(title) <= TITLE_LENGTH
    assert "\n" not in title and "\r" not in title and title == title.strip()
    if title and not title.endswith("…"):
        assert title in " ".join(question.split())


def test_a_long_first_line_is_cut_with_an_ellipsis() -> None:
    title = thread_title("  npm   ERR! " + "x" * 200 + "\nsecond line")
    assert title.startswith("npm ERR! x") and title.endswith("…") and len(title) == TITLE_LENGTH


def test_prompts_have_a_title_and_a_message_in_each_language() -> None:
    for language in Language:
        prompts = suggested_prompts(language)
        assert len(prompts) == 3
        assert all(p["title"] and p["message"] for p in prompts)
