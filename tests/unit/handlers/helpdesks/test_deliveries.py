"""Each vendor's delivery id, read where the vendor puts it (sources: deliveries.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from handlers.helpdesks.registry import REGISTRY
from handlers.webhooks.deliveries import MAX_ID_LENGTH


def test_each_vendor_names_its_delivery() -> None:
    zendesk = {"X-Zendesk-Webhook-Invocation-Id": "8350205582"}
    jira = {"x-atlassian-webhook-identifier": "1234-abcd"}
    assert REGISTRY.delivery_id("zendesk", zendesk, {}) == "8350205582"
    assert REGISTRY.delivery_id("jira", jira, {}) == "1234-abcd"
    assert REGISTRY.delivery_id("intercom", {}, {"id": "notif_ccd8a4d0", "topic": "x"}) == (
        "notif_ccd8a4d0"
    )
    assert REGISTRY.delivery_id("generic", {"X-Delivery-Id": "d-1"}, {}) == "d-1"


def test_no_usable_id_means_none() -> None:
    assert REGISTRY.delivery_id("jira-automation", {"X-Delivery-Id": "x"}, {"id": "y"}) is None
    assert REGISTRY.delivery_id("zendesk", {}, {"id": "not-a-header"}) is None
    assert REGISTRY.delivery_id("intercom", {}, {"id": 5}) is None
    assert REGISTRY.delivery_id("intercom", {}, ["not", "an", "object"]) is None
    assert REGISTRY.delivery_id("jira", {"X-Atlassian-Webhook-Identifier": "  "}, {}) is None
    too_long = "x" * (MAX_ID_LENGTH + 1)
    assert REGISTRY.delivery_id("jira", {"X-Atlassian-Webhook-Identifier": too_long}, {}) is None


@given(
    st.sampled_from(list(REGISTRY.routes)),
    st.dictionaries(st.text(), st.text()),
    st.none() | st.text(),
)
def test_any_input_gives_a_short_string_or_none(
    provider: str, headers: dict[str, str], notification: str | None
) -> None:
    found = REGISTRY.delivery_id(provider, headers, {"id": notification})
    assert found is None or (0 < len(found) <= MAX_ID_LENGTH and found == found.strip())
