"""HTML to text for the vendor sources: headings kept, hidden parts dropped, any input read."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.knowledge.sources.html_text import html_to_text

MARKER = "Zq9HIDDENq9Z"
TAGS = ["p", "div", "h1", "h3", "li", "ul", "pre", "code", "b", "td", "tr", "table", "br", "span"]


def test_headings_become_markdown_lines_at_their_level() -> None:
    text = html_to_text("<h1>Top</h1><p>a</p><h3>Deep <em>one</em></h3><p>b</p><h6>six</h6>")
    assert text.splitlines() == ["# Top", "", "a", "", "### Deep one", "", "b", "", "###### six"]


def test_scripts_styles_and_templates_never_reach_the_text() -> None:
    html = (
        f"<p>shown</p><script>var x='{MARKER}';</script><style>.a{{content:'{MARKER}'}}</style>"
        f"<template><p>{MARKER}</p></template><noscript>{MARKER}</noscript>"
        f"<svg><text>{MARKER}</text></svg><p>after</p>"
    )
    assert html_to_text(html) == "shown\n\nafter"


def test_entities_lists_tables_and_preformatted_text() -> None:
    html = (
        "<p>a &amp; b&nbsp;c &lt;tag&gt;</p><ul><li>one</li><li>two</li></ul>"
        "<table><tr><th>code</th><th>meaning</th></tr><tr><td>E101</td><td>declined</td></tr>"
        "</table><pre>line 1\n    indented</pre>"
    )
    assert html_to_text(html).splitlines() == [
        "a & b c <tag>",
        "",
        "- one",
        "- two",
        "",
        "code | meaning",
        "E101 | declined",
        "",
        "line 1",
        "    indented",
    ]


def test_unclosed_and_stray_tags_lose_no_text() -> None:
    text = html_to_text("<p>one<div>two</span></p></p>three")
    assert text.splitlines() == ["one", "two", "", "three"]


def test_deep_nesting_is_read_without_recursion() -> None:
    html = "<div>" * 50_000 + "deep" + "</div>" * 50_000
    assert html_to_text(html) == "deep"


def test_stray_end_tags_inside_a_hidden_part_are_read_in_one_pass() -> None:
    # Many open tags inside a template, then many end tags that match none of them.
    html = "<template>" + "<div>" * 20_000 + "</b>" * 20_000 + "</template><p>shown</p>"
    assert html_to_text(html) == "shown"


@given(st.text(max_size=300))
def test_any_text_is_read_and_its_words_kept(raw: str) -> None:
    text = html_to_text(raw)
    assert isinstance(text, str)
    if "<" not in raw and "&" not in raw:
        assert text.split() == raw.replace("\u00a0", " ").split()


@given(
    st.lists(
        st.one_of(
            st.sampled_from(TAGS).map(lambda t: f"<{t}>"),
            st.sampled_from(TAGS).map(lambda t: f"</{t}>"),
            st.text(alphabet=st.characters(blacklist_characters="<>&"), max_size=20),
        ),
        max_size=40,
    )
)
def test_a_script_anywhere_in_tag_soup_stays_hidden(parts: list[str]) -> None:
    middle = len(parts) // 2
    html = "".join(parts[:middle]) + f"<script>{MARKER}</script>" + "".join(parts[middle:])
    assert MARKER not in html_to_text(html)
