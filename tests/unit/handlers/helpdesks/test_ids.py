from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.helpdesks.registry import REGISTRY
from handlers.webhooks.ids import BadTicketId, segment


@pytest.mark.parametrize(
    ("provider", "value", "expected"),
    [
        ("zendesk", 501, "501"),
        ("zendesk", "501", "501"),
        ("jira", "SD-9", "SD-9"),
        ("jira", "MY_PROJ2-120", "MY_PROJ2-120"),
        ("jira", "10001", "10001"),
        ("intercom", "215467897", "215467897"),
        ("generic", "G-1", "G-1"),
    ],
)
def test_ids_in_their_vendors_format_are_accepted(
    provider: str, value: object, expected: str
) -> None:
    assert REGISTRY.ticket_id(provider, value) == expected


@pytest.mark.parametrize(
    ("provider", "value"),
    [
        ("zendesk", "../../users/me"),
        ("zendesk", "12\n"),
        ("zendesk", "0"),
        ("zendesk", True),
        ("zendesk", None),
        ("zendesk", 1.5),
        ("jira", "SD-1/../../myself"),
        ("jira", "sd-1"),
        ("intercom", "1/../../admins"),
        ("intercom", ""),
        ("generic", None),
        ("generic", "a b"),
    ],
)
def test_ids_out_of_format_or_null_are_refused(provider: str, value: object) -> None:
    with pytest.raises(BadTicketId):
        REGISTRY.ticket_id(provider, value)


@given(st.sampled_from(list(REGISTRY.routes)), st.text())
def test_any_accepted_id_is_one_harmless_path_segment(provider: str, value: str) -> None:
    try:
        accepted = REGISTRY.ticket_id(provider, value)
    except BadTicketId:
        return
    assert accepted == value
    assert "/" not in accepted and "\\" not in accepted and accepted not in {".", ".."}
    assert all(c.isascii() and c.isprintable() for c in accepted)


@given(st.text(min_size=1))
def test_a_quoted_segment_never_leaves_its_place(value: str) -> None:
    quoted = segment(value)
    assert "/" not in quoted and "?" not in quoted and "#" not in quoted
    assert quoted not in {".", ".."}
    assert unquote(quoted) == value
