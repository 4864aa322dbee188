"""Each vendor's delivery id, read where the vendor puts it (sources: deliveries.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from handlers.helpdesks.registry import delivery_id
from handlers.webhooks.deliveries import MAX_ID_LENGTH
from handlers.webhooks.signatures import Provider


def test_each_vendor_names_its_delivery() -> None:
    zendesk = {"X-Zendesk-Webhook-Invocation-Id": "8350205582"}
    jira = {"x-atlassian-webhook-identifier": "1234-abcd"}
    assert delivery_id(Provider.ZENDESK, zendesk, {}) == "8350205582"
    assert delivery_id(Provider.JIRA, jira, {}) == "1234-abcd"
    assert delivery_id(Provider.INTERCOM, {}, {"id": "notif_ccd8a4d0", "topic": "x"}) == (
        "notif_ccd8a4d0"
    )
    assert delivery_id(Provider.GENERIC, {"X-Delivery-Id": "d-1"}, {}) == "d-1"


def test_no_usable_id_means_none() -> None:
    assert delivery_id(Provider.JIRA_AUTOMATION, {"X-Delivery-Id": "x"}, {"id": "y"}) is None
    assert delivery_id(Provider.ZENDESK, {}, {"id": "not-a-header"}) is None
    assert delivery_id(Provider.INTERCOM, {}, {"id": 5}) is None
    assert delivery_id(Provider.INTERCOM, {}, ["not", "an", "object"]) is None
    assert delivery_id(Provider.JIRA, {"X-Atlassian-Webhook-Identifier": "  "}, {}) is None
    too_long = "x" * (MAX_ID_LENGTH + 1)
    assert delivery_id(Provider.JIRA, {"X-Atlassian-Webhook-Identifier": too_long}, {}) is None


@given(
    st.sampled_from(list(Provider)),
    st.dictionaries(st.text(), st.text()),
    st.none() | st.text(),
)
def test_any_input_gives_a_short_string_or_none(
    provider: Provider, headers: dict[str, str], notification: str | None
) -> None:
    found = delivery_id(provider, headers, {"id": notification})
    assert found is None or (0 < len(found) <= MAX_ID_LENGTH and found == found.strip())
