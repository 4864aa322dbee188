"""Streaming as Slack documents it, against the strict fake Slack over HTTP.

Each call's text stays within 12,000 characters; a refused start leaves the answer to
edits; a person's Stop ends the answer quietly; a lost post is not posted twice.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import AnswerStopped
from bot.observability.metrics import Metrics
from bot.stores.rate_limit import InMemoryRateLimiter
from handlers.slack.retries import slack_retry_handlers
from handlers.slack.thread_reply import (
    STREAM_MESSAGE_LIMIT,
    SlackThreadReply,
    StreamingSupport,
    ThreadPlace,
)
from tests.support.fake_slack import STREAM_TEXT_LIMIT, FakeSlack
from tests.support.servers import ServerThread

TOKEN = "xoxb-stream-rules"
PLACE = ThreadPlace(channel="C1", thread_ts="1.0", message_ts="1.0", team_id="T1", user_id="U1")
STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[list[FakeSlack], str]]:
    """One server; each test swaps in a fresh fake behind it."""
    holder = [FakeSlack(bot_token=TOKEN, streaming=True)]

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await holder[0].app(scope, receive, send)

    with ServerThread(app) as running:
        yield holder, running.url


Server = tuple[list[FakeSlack], str]


def _fresh(server: Server, **kwargs: object) -> tuple[FakeSlack, AsyncWebClient]:
    holder, url = server
    holder[0] = FakeSlack(bot_token=TOKEN, **({"streaming": True} | kwargs))  # type: ignore[arg-type]
    client = AsyncWebClient(token=TOKEN, base_url=f"{url}/api/")
    client.retry_handlers.extend(slack_retry_handlers(Metrics()))
    return holder[0], client


def _reply(client: AsyncWebClient, streaming: StreamingSupport | None = None) -> SlackThreadReply:
    return SlackThreadReply(
        client, PLACE, streaming=streaming or StreamingSupport(), update_interval=0
    )


def _words(count: int) -> str:
    return " ".join(f"word{i}" for i in range(count))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    total=st.integers(min_value=1, max_value=40_000),
    cuts=st.lists(st.integers(min_value=0, max_value=40_000), max_size=6),
)
async def test_every_stream_call_stays_within_12000_characters_and_nothing_is_lost(
    server: tuple[list[FakeSlack], str], total: int, cuts: list[int]
) -> None:
    fake, client = _fresh(server)
    answer = ("lorem ipsum dolor sit amet\n" * (total // 27 + 1))[:total]
    reply = _reply(client)
    await reply.start("Looking into it…")
    for cut in sorted(c for c in cuts if c < total):  # progress arrives in bursts of any size
        await reply.progress(answer[: cut + 1], force=True)
    await reply.finish(answer)
    calls = [c for c in fake.calls() if c.method in STREAM_METHODS]
    assert not fake.errors(), [c.error for c in fake.errors()]
    assert all(len(c.args.get("markdown_text") or "") <= STREAM_TEXT_LIMIT for c in calls)
    messages = fake.stream_messages("C1", "1.0")
    texts = [fake.streamed_text("C1", ts) for ts in messages]
    assert "".join(texts) == answer.strip() or "".join(texts) == answer
    assert all(len(t) <= STREAM_MESSAGE_LIMIT for t in texts)
    assert not any(fake.is_streaming("C1", ts) for ts in messages), "every stream was stopped"


async def test_a_29899_character_burst_is_sent_in_pieces(
    server: tuple[list[FakeSlack], str],
) -> None:
    fake, client = _fresh(server)
    answer = _words(3_000)[:29_899]
    reply = _reply(client)
    await reply.start("Looking into it…")
    await reply.progress(answer, force=True)  # the whole answer arrives before the first call
    await reply.finish(answer)
    starts = fake.calls("chat.startStream")
    assert len(starts) == 3 and not fake.errors()
    assert "".join(fake.streamed_text("C1", s.args["_ts"]) for s in starts) == answer


@pytest.mark.parametrize(
    "refusal",
    [
        "restricted_action",
        "messages_tab_disabled",
        "not_in_channel",
        "invalid_arguments",
        "missing_recipient_user_id",
        "is_archived",
        "rate_limited",
    ],
)
async def test_any_refused_start_leaves_the_answer_to_edits(
    server: tuple[list[FakeSlack], str], refusal: str
) -> None:
    fake, client = _fresh(server)
    fake.refuse_next("chat.startStream", refusal)
    streaming = StreamingSupport()
    reply = _reply(client, streaming)
    await reply.start("Looking into it…")
    await reply.progress("The package is missing.", force=True)
    await reply.finish("The package is missing. Install it.")
    [placeholder] = fake.thread_messages("C1", "1.0")
    assert fake.final_text("C1", placeholder.args["_ts"]) == "The package is missing. Install it."
    assert streaming.enabled, "one channel's refusal does not stop streaming elsewhere"
    second = _reply(client, streaming)
    await second.start("Looking into it…")
    await second.finish("Streamed again.")
    assert len(fake.stream_messages("C1", "1.0")) == 1


async def test_a_workspace_without_the_stream_methods_is_not_asked_again(
    server: tuple[list[FakeSlack], str],
) -> None:
    fake, client = _fresh(server, streaming=False)
    streaming = StreamingSupport()
    for text in ("first answer", "second answer"):
        reply = _reply(client, streaming)
        await reply.start("Looking into it…")
        await reply.finish(text)
    assert len(fake.calls("chat.startStream")) == 1 and not streaming.enabled


async def test_stop_pressed_mid_stream_ends_the_answer_quietly(
    server: tuple[list[FakeSlack], str],
) -> None:
    fake, client = _fresh(server)
    fake.user_stops_next_stream(after_appends=1)
    reply = _reply(client)
    await reply.start("Looking into it…")
    await reply.progress("The package", force=True)
    await reply.progress("The package is missing", force=True)  # Stop is pressed here
    with pytest.raises(AnswerStopped):
        await reply.progress("The package is missing. Run pip", force=True)
    await reply.stopped_quietly()
    assert [c.error for c in fake.errors()] == ["stopped_by_user"]
    assert not fake.calls("chat.stopStream") and not fake.calls("chat.update")
    assert fake.statuses("C1", "1.0")[-1] == "", "the working status is cleared"
    assert fake.thread_messages("C1", "1.0") == [], "no warning is posted"


async def test_a_stream_slack_already_closed_is_not_an_error_at_the_end(
    server: tuple[list[FakeSlack], str],
) -> None:
    fake, client = _fresh(server)
    reply = _reply(client)
    await reply.start("Looking into it…")
    await reply.progress("Half of it", force=True)
    [stream_ts] = fake.stream_messages("C1", "1.0")
    await client.chat_stopStream(channel="C1", ts=stream_ts)  # Slack closed it meanwhile
    # Not the person's Stop: the rest goes into the same message by chat.update.
    await reply.finish("Half of it, and the rest")
    assert [c.error for c in fake.errors()] == ["message_not_in_streaming_state"]
    assert fake.final_text("C1", stream_ts) == "Half of it, and the rest"
    assert fake.thread_messages("C1", "1.0") == []


async def test_stream_starts_beyond_the_tier_budget_are_edited_instead(
    server: tuple[list[FakeSlack], str],
) -> None:
    fake, client = _fresh(server)
    streaming = StreamingSupport(limiter=InMemoryRateLimiter(), starts_per_minute=2)
    for number in range(3):
        reply = _reply(client, streaming)
        await reply.start("Looking into it…")
        await reply.finish(f"answer {number}")
    assert len(fake.calls("chat.startStream")) == 2
    edited = [fake.final_text("C1", p.args["_ts"]) for p in fake.thread_messages("C1", "1.0")]
    assert "answer 2" in edited


async def test_a_429_on_start_stream_is_answered_by_editing_not_waiting(
    server: tuple[list[FakeSlack], str],
) -> None:
    fake, client = _fresh(server)
    fake.fail_next("chat.startStream", status=429, retry_after=30)
    reply = _reply(client)
    await reply.start("Looking into it…")
    await reply.finish("edited answer")
    assert [c.method for c in fake.calls() if "startStream" in c.method] == ["chat.startStream!429"]
    [placeholder] = fake.thread_messages("C1", "1.0")
    assert fake.final_text("C1", placeholder.args["_ts"]) == "edited answer"


async def test_a_post_that_landed_before_its_5xx_is_not_posted_again(
    server: tuple[list[FakeSlack], str],
) -> None:
    fake, client = _fresh(server, streaming=False)
    fake.fail_next("chat.postMessage", status=503, landed=True)
    reply = _reply(client)
    await reply.start("Looking into it…")
    await reply.finish("the answer")
    [placeholder] = fake.thread_messages("C1", "1.0")
    assert fake.final_text("C1", placeholder.args["_ts"]) == "the answer"
    assert fake.calls("conversations.replies"), "the thread was read before posting again"


async def test_a_post_lost_before_it_landed_is_sent_once_more(
    server: tuple[list[FakeSlack], str],
) -> None:
    fake, client = _fresh(server, streaming=False)
    fake.fail_next("chat.postMessage", status=503)
    reply = _reply(client)
    await reply.start("Looking into it…")
    await reply.finish("the answer")
    [placeholder] = fake.thread_messages("C1", "1.0")
    assert fake.final_text("C1", placeholder.args["_ts"]) == "the answer"
