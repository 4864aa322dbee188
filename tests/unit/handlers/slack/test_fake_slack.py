"""The fake Slack refuses what Slack documents it refuses (the fake cites each rule's page)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.support.fake_slack import MANIFEST, FakeSlack
from tests.support.servers import ServerThread

TOKEN = "xoxb-fake-rules"


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlack, AsyncWebClient]]:
    fake = FakeSlack(bot_token=TOKEN, streaming=True)
    with ServerThread(fake.app) as server:
        fake.base_url = server.url
        yield fake, AsyncWebClient(token=TOKEN, base_url=f"{server.url}/api/")


async def _refused(call: object) -> str:
    with pytest.raises(SlackApiError) as refused:
        await call  # type: ignore[misc]
    return str(refused.value.response["error"])


async def _stream(client: AsyncWebClient, channel: str = "C1") -> str:
    started = await client.chat_startStream(
        channel=channel, thread_ts="1.0", recipient_team_id="T1", recipient_user_id="U1"
    )
    return str(started["ts"])


async def test_stream_text_over_12000_characters_is_refused(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    _, client = slack
    too_long = "x" * 12_001
    assert (
        await _refused(
            client.chat_startStream(
                channel="C1",
                thread_ts="1.0",
                markdown_text=too_long,
                recipient_team_id="T1",
                recipient_user_id="U1",
            )
        )
        == "msg_too_long"
    )
    ts = await _stream(client)
    append = client.chat_appendStream(channel="C1", ts=ts, markdown_text=too_long)
    assert await _refused(append) == "msg_too_long"
    await client.chat_appendStream(channel="C1", ts=ts, markdown_text="x" * 12_000)


async def test_streams_in_channels_need_their_recipient(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    _, client = slack
    assert await _refused(client.chat_startStream(channel="C1", thread_ts="1.0")) == (
        "missing_recipient_user_id"
    )
    assert (
        await _refused(
            client.chat_startStream(channel="C1", thread_ts="1.0", recipient_user_id="U1")
        )
        == "missing_recipient_team_id"
    )
    await client.chat_startStream(channel="D1", thread_ts="1.0")  # a DM needs none


async def test_the_stream_state_machine(slack: tuple[FakeSlack, AsyncWebClient]) -> None:
    fake, client = slack
    assert await _refused(client.chat_appendStream(channel="C1", ts="9.9", markdown_text="a")) == (
        "message_not_found"
    )
    ts = await _stream(client)
    assert await _refused(client.chat_update(channel="C1", ts=ts, text="edit")) == (
        "streaming_state_conflict"
    )
    assert await _refused(client.chat_appendStream(channel="C1", ts=ts, markdown_text="")) == (
        "markdown_text_required"
    )
    await client.chat_appendStream(channel="C1", ts=ts, markdown_text="a")
    await client.chat_stopStream(channel="C1", ts=ts)
    assert await _refused(client.chat_appendStream(channel="C1", ts=ts, markdown_text="b")) == (
        "message_not_in_streaming_state"
    )
    assert await _refused(client.chat_stopStream(channel="C1", ts=ts)) == (
        "message_not_in_streaming_state"
    )
    await client.chat_update(channel="C1", ts=ts, text="edited once stopped")
    posted = await client.chat_postMessage(channel="C1", text="plain")
    assert (
        await _refused(client.chat_appendStream(channel="C1", ts=posted["ts"], markdown_text="b"))
        == "message_not_in_streaming_state"
    )
    assert fake.streamed_text("C1", ts) == "a"


async def test_stop_pressed_by_the_user(slack: tuple[FakeSlack, AsyncWebClient]) -> None:
    fake, client = slack
    fake.user_stops_next_stream(after_appends=2)
    ts = await _stream(client)
    await client.chat_appendStream(channel="C1", ts=ts, markdown_text="a")
    await client.chat_appendStream(channel="C1", ts=ts, markdown_text="b")
    assert await _refused(client.chat_appendStream(channel="C1", ts=ts, markdown_text="c")) == (
        "stopped_by_user"
    )


async def test_message_lengths_and_blocks(slack: tuple[FakeSlack, AsyncWebClient]) -> None:
    _, client = slack
    assert await _refused(client.chat_postMessage(channel="C1", text="x" * 40_001)) == (
        "msg_too_long"
    )
    posted = await client.chat_postMessage(channel="C1", text="x" * 40_000)
    assert await _refused(client.chat_update(channel="C1", ts=posted["ts"], text="x" * 4_001)) == (
        "msg_too_long"
    )
    divider = {"type": "divider"}
    assert (
        await _refused(client.chat_postMessage(channel="C1", text="t", blocks=[divider] * 51))
        == "invalid_blocks"
    )
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3_001}}
    assert await _refused(client.chat_postMessage(channel="C1", text="t", blocks=[section])) == (
        "invalid_blocks"
    )
    assert await _refused(client.chat_postMessage(channel="C1")) == "no_text"
    ts = await _stream(client)
    assert await _refused(client.chat_stopStream(channel="C1", ts=ts, blocks=[divider] * 51)) == (
        "msg_blocks_too_many"
    )


async def test_scopes_membership_reactions_and_triggers(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    fake.scopes = "chat:write"
    assert await _refused(client.users_info(user="U1")) == "missing_scope"
    title = client.assistant_threads_setTitle(channel_id="D1", thread_ts="1.0", title="t")
    assert await _refused(title) == "missing_scope"
    await client.assistant_threads_setStatus(channel_id="C1", thread_ts="1.0", status="is reading")
    fake.leave_channel("COUT")
    assert await _refused(client.chat_postMessage(channel="COUT", text="hi")) == "not_in_channel"
    fake.scopes = "chat:write,reactions:write"
    await client.reactions_add(channel="C1", timestamp="1.0", name="eyes")
    assert await _refused(client.reactions_add(channel="C1", timestamp="1.0", name="eyes")) == (
        "already_reacted"
    )
    view = {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": []}
    stale = fake.trigger_id(issued_seconds_ago=4)
    assert await _refused(client.views_open(trigger_id=stale, view=view)) == "expired_trigger_id"
    fresh = fake.trigger_id()
    await client.views_open(trigger_id=fresh, view=view)
    assert await _refused(client.views_open(trigger_id=fresh, view=view)) == "exchanged_trigger_id"


async def test_a_dm_needs_a_writable_messages_tab(tmp_path: Path) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    manifest["features"].pop("app_home", None)
    without_tab = tmp_path / "manifest.yaml"
    without_tab.write_text(yaml.safe_dump(manifest))
    fake = FakeSlack(bot_token=TOKEN, streaming=True, manifest=without_tab)
    with ServerThread(fake.app) as server:
        client = AsyncWebClient(token=TOKEN, base_url=f"{server.url}/api/")
        assert await _refused(client.chat_postMessage(channel="D1", text="hi")) == (
            "messages_tab_disabled"
        )
        assert await _refused(client.chat_startStream(channel="D1", thread_ts="1.0")) == (
            "messages_tab_disabled"
        )
        await client.chat_postMessage(channel="C1", text="channels are fine")


async def test_slack_connect_files_are_read_through_files_info(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    stub = fake.add_connect_file("FCONNECT1", "shot.png", b"\x89PNG")
    assert "url_private" not in stub and stub["file_access"] == "check_file_info"
    info = await client.files_info(file="FCONNECT1")
    assert info["file"]["url_private"].endswith("/files/shot.png")
    assert await _refused(client.files_info(file="FNOPE")) == "file_not_found"
