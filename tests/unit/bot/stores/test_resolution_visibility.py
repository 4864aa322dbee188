"""A resolution is drawn on only where its origin allows: the documents' visibility rule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.conversation.knowledge import Conversation, Resolution
from bot.stores.knowledge import InMemoryKnowledgeBase
from tests.support.resolutions import resolution_in


async def test_private_and_direct_resolutions_stay_in_their_conversation() -> None:
    knowledge = InMemoryKnowledgeBase()
    for number, error in enumerate(["disk full on /var", "DNS NXDOMAIN api", "OOMKilled pod"]):
        other = Resolution(
            error,
            "x",
            "y",
            "U9",
            f"T1:CX{number}:1.1",
            workspace="T1",
            channel=f"CX{number}",
            conversation=Conversation.PUBLIC,
        )
        await knowledge.add(other)
    await knowledge.add(resolution_in("GPRIV", Conversation.PRIVATE))
    await knowledge.add(resolution_in("D1", Conversation.DIRECT))
    await knowledge.add(resolution_in("CPUB", Conversation.PUBLIC))
    await knowledge.add(resolution_in("CELSE", Conversation.PUBLIC, workspace="T2"))

    def channels(found: list[Resolution]) -> set[str]:
        return {r.channel for r in found}

    query = "ACME-4012 vault token expired"
    assert channels(await knowledge.similar(query, where=("T1", "COTHER"))) == {"CPUB"}
    assert channels(await knowledge.similar(query, where=("T1", "D2"))) == {"CPUB"}
    assert channels(await knowledge.similar(query, where=("T1", "GPRIV"))) == {"CPUB", "GPRIV"}
    assert channels(await knowledge.similar(query, where=("T1", "D1"))) == {"CPUB", "D1"}
    assert channels(await knowledge.similar(query, where=("T2", "CPUB"))) == {"CELSE"}


def test_a_record_without_its_origin_is_treated_as_private() -> None:
    old = Resolution("e", "d", "r", "U1", thread="T1:CPUB:1.1")  # kept before origins
    assert old.visible_in("T1", "CPUB")
    assert not old.visible_in("T1", "COTHER")
    assert not old.visible_in("T2", "CPUB")


@given(
    kind=st.sampled_from(list(Conversation)),
    origin=st.text(min_size=1, max_size=12),
    asker=st.text(min_size=1, max_size=12),
)
def test_only_public_resolutions_cross_channels(
    kind: Conversation, origin: str, asker: str
) -> None:
    resolution = resolution_in(origin, kind)
    crosses = resolution.visible_in("T1", asker)
    assert crosses == (origin == asker or kind is Conversation.PUBLIC)
    assert not resolution.visible_in("T-other", asker)
