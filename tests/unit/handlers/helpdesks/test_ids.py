from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.helpdesks.registry import ticket_id
from handlers.webhooks.ids import BadTicketId, segment
from handlers.webhooks.signatures import Provider


@pytest.mark.parametrize(
    ("provider", "value", "expected"),
    [
        (Provider.ZENDESK, 501, "501"),
        (Provider.ZENDESK, "501", "501"),
        (Provider.JIRA, "SD-9", "SD-9"),
        (Provider.JIRA, "MY_PROJ2-120", "MY_PROJ2-120"),
        (Provider.JIRA, "10001", "10001"),
        (Provider.INTERCOM, "215467897", "215467897"),
        (Provider.GENERIC, "G-1", "G-1"),
    ],
)
def test_ids_in_their_vendors_format_are_accepted(
    provider: Provider, value: object, expected: str
) -> None:
    assert ticket_id(provider, value) == expected


@pytest.mark.parametrize(
    ("provider", "value"),
    [
        (Provider.ZENDESK, "../../users/me"),
        (Provider.ZENDESK, "12\n"),
        (Provider.ZENDESK, "0"),
        (Provider.ZENDESK, True),
        (Provider.ZENDESK, None),
        (Provider.ZENDESK, 1.5),
        (Provider.JIRA, "SD-1/../../myself"),
        (Provider.JIRA, "sd-1"),
        (Provider.INTERCOM, "1/../../admins"),
        (Provider.INTERCOM, ""),
        (Provider.GENERIC, None),
        (Provider.GENERIC, "a b"),
    ],
)
def test_ids_out_of_format_or_null_are_refused(provider: Provider, value: object) -> None:
    with pytest.raises(BadTicketId):
        ticket_id(provider, value)


@given(st.sampled_from(list(Provider)), st.text())
def test_any_accepted_id_is_one_harmless_path_segment(provider: Provider, value: str) -> None:
    try:
        accepted = ticket_id(provider, value)
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
