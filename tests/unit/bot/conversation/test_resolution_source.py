"""Past resolutions as a source of the knowledge index: the same visibility rule as the
store's own search, synced incrementally, and put into the index the moment they are made."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.app.knowledge import IndexedResolutions
from bot.conversation.knowledge import Conversation, Resolution, conversation_scopes
from bot.conversation.resolution_source import SOURCE, ResolutionsSource
from bot.knowledge.index import KnowledgeIndex, Mode
from bot.knowledge.sync import sync_source
from bot.safety.redaction import Redactor
from bot.stores.knowledge import InMemoryKnowledgeBase
from tests.support.resolutions import resolution_in

QUERY = "ACME-4012 vault token expired"


def _origins(index: KnowledgeIndex, workspace: str, channel: str) -> set[str]:
    found = index.search(
        QUERY,
        channel=channel,
        scopes=conversation_scopes(workspace, channel),
        mode=Mode.LEXICAL,
        limit=20,
    )
    return {p.text.split("(from ")[1].split(")")[0] for p in found if "(from " in p.text}


async def test_the_index_draws_on_a_resolution_only_where_its_origin_allows(
    tmp_path: Path,
) -> None:
    store = InMemoryKnowledgeBase()
    for resolution in [
        resolution_in("GPRIV", Conversation.PRIVATE),
        resolution_in("D1", Conversation.DIRECT),
        resolution_in("CPUB", Conversation.PUBLIC),
        resolution_in("CELSE", Conversation.PUBLIC, workspace="T2"),
        resolution_in("CUNK", Conversation.UNKNOWN),
    ]:
        await store.add(resolution)
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    summary = await sync_source(ResolutionsSource(store), index, redactor=Redactor())
    assert (summary.error, summary.added) == (None, 5)

    # The store's own answers (tests/unit/bot/stores/test_resolution_visibility.py).
    assert _origins(index, "T1", "COTHER") == {"CPUB"}
    assert _origins(index, "T1", "D2") == {"CPUB"}
    assert _origins(index, "T1", "GPRIV") == {"CPUB", "GPRIV"}
    assert _origins(index, "T1", "D1") == {"CPUB", "D1"}
    assert _origins(index, "T1", "CUNK") == {"CPUB", "CUNK"}
    assert _origins(index, "T2", "CPUB") == {"CELSE"}
    # A search that names no conversation scope (a helpdesk ticket) sees none of them.
    assert index.search(QUERY, channel="CPUB", mode=Mode.LEXICAL) == []


@given(
    origin=st.tuples(st.sampled_from(["T1", "T2"]), st.sampled_from(["C1", "C2", "D1", "G1"])),
    asker=st.tuples(st.sampled_from(["T1", "T2"]), st.sampled_from(["C1", "C2", "D1", "G1"])),
    kind=st.sampled_from(list(Conversation)),
)
def test_index_visibility_is_visible_in(
    origin: tuple[str, str], asker: tuple[str, str], kind: Conversation
) -> None:
    resolution = resolution_in(origin[1], kind, workspace=origin[0])
    channels = resolution.index_visibility.channels
    assert channels is not None  # never "everyone": always inside its workspace
    heard = {asker[1], *conversation_scopes(*asker)}
    assert bool(channels & heard) == resolution.visible_in(*asker)


async def test_a_new_resolution_is_searchable_at_once_and_a_resync_keeps_it_once(
    tmp_path: Path,
) -> None:
    store = InMemoryKnowledgeBase()
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    desk = IndexedResolutions(store, index, Redactor())
    await desk.add(resolution_in("CPUB", Conversation.PUBLIC))
    await desk.settled()
    assert _origins(index, "T1", "CANY") == {"CPUB"}
    assert index.counts()[SOURCE] == (1, 3)

    again = await sync_source(ResolutionsSource(store), index, redactor=Redactor())
    assert (again.added, again.changed, again.unchanged, again.removed) == (0, 0, 1, 0)
    assert index.counts()[SOURCE] == (1, 3)


async def test_a_resolution_the_store_no_longer_keeps_leaves_the_index(tmp_path: Path) -> None:
    store = InMemoryKnowledgeBase()
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    await store.add(resolution_in("CPUB", Conversation.PUBLIC))
    await sync_source(ResolutionsSource(store), index, redactor=Redactor())
    trimmed = InMemoryKnowledgeBase()  # the store's cap dropped the oldest
    removed = await sync_source(ResolutionsSource(trimmed), index, redactor=Redactor())
    assert removed.removed == 1
    assert _origins(index, "T1", "CANY") == set()


async def test_secrets_in_a_resolution_are_redacted_before_they_are_indexed(
    tmp_path: Path,
) -> None:
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    desk = IndexedResolutions(InMemoryKnowledgeBase(), index, Redactor())
    leaked = "AKIAIOSFODNN7EXAMPLE"
    resolution = resolution_in("CPUB", Conversation.PUBLIC)
    await desk.add(Resolution(**{**resolution.__dict__, "resolution": f"use key {leaked}"}))
    await desk.settled()
    assert index.counts()[SOURCE][0] == 1
    index.close()
    assert leaked.encode() not in b"".join(path.read_bytes() for path in tmp_path.iterdir())
