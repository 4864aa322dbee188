"""An answer's steps as Slack task cards, against the fake Slack over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.steps import Step, StepSource, StepStatus, reading_steps
from bot.conversation.turns import AttachmentKind, AttachmentNote
from bot.messages import Language
from handlers.slack.steps import MAX_STEP_UPDATES, AnswerSteps, task_chunk
from handlers.slack.thread_reply import SlackThreadReply, StreamingSupport, ThreadPlace
from tests.support.fake_slack import FakeSlack
from tests.support.servers import ServerThread

TOKEN = "xoxb-steps-test"
PLACE = ThreadPlace(channel="C1", thread_ts="1.0", message_ts="1.0", team_id="T1", user_id="U1")
LISTING = (
    AttachmentNote("a.png", AttachmentKind.IMAGE),
    AttachmentNote("b.png", AttachmentKind.IMAGE),
    AttachmentNote("app.log", AttachmentKind.TEXT, text="ERROR boom"),
    AttachmentNote("huge.png", AttachmentKind.UNREAD, "too large"),
)


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlack, AsyncWebClient]]:
    fake = FakeSlack(bot_token=TOKEN, streaming=True, rate_tiers=True)
    with ServerThread(fake.app) as server:
        fake.base_url = server.url
        yield fake, AsyncWebClient(token=TOKEN, base_url=f"{server.url}/api/")


def _reply(client: AsyncWebClient, steps: AnswerSteps, *, streaming: bool = True) -> Any:
    return SlackThreadReply(
        client, PLACE, streaming=StreamingSupport(enabled=streaming), update_interval=0, steps=steps
    )


def _steps() -> AnswerSteps:
    steps = AnswerSteps(Language.ENGLISH)
    for step in reading_steps(LISTING, Language.ENGLISH):
        steps.record(step)
    return steps


def _card_calls(fake: FakeSlack) -> list[Any]:
    return [
        c
        for m in ("chat.startStream", "chat.appendStream", "chat.stopStream")
        for c in fake.calls(m)
        if c.args.get("chunks")
    ]


def test_reading_steps_name_the_screenshots_and_each_text_file() -> None:
    steps = reading_steps(LISTING, Language.ENGLISH)
    assert [(s.id, s.title, s.status) for s in steps] == [
        ("read-screenshots", "Reading 2 screenshot(s)", StepStatus.COMPLETE),
        ("read-file-0", "Reading app.log", StepStatus.COMPLETE),
    ]
    assert reading_steps((), Language.ENGLISH) == []


def test_a_card_title_forms_no_mention_and_sources_are_url_elements() -> None:
    step = Step(
        "s",
        "Reading <!channel>.log " + "x" * 400,
        StepStatus.COMPLETE,
        (StepSource("https://wiki.example/r/1", "Runbook: npm"),),
    )
    chunk = task_chunk(step)
    assert "<!channel>" not in chunk["title"] and "&lt;!channel&gt;" in chunk["title"]
    assert len(chunk["title"]) <= 256
    assert chunk["sources"] == [
        {"type": "url", "url": "https://wiki.example/r/1", "text": "Runbook: npm"}
    ]


async def test_the_fake_refuses_malformed_chunks_as_slack_does(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    started = await client.chat_startStream(
        channel="C1", thread_ts="1.0", recipient_team_id="T1", recipient_user_id="U1"
    )
    ts = str(started["ts"])
    bad: list[dict[str, Any]] = [
        {"type": "task_update", "id": "a", "title": "t", "status": "done"},
        {"type": "task_update", "title": "t", "status": "complete"},
        {"type": "task_update", "id": "a", "status": "complete"},
        {
            "type": "task_update",
            "id": "a",
            "title": "t",
            "status": "complete",
            "sources": [{"type": "text", "text": "x"}],
        },
        {"type": "thinking", "text": "x"},
    ]
    for chunk in bad:
        with pytest.raises(SlackApiError) as refused:
            await client.chat_appendStream(channel="C1", ts=ts, chunks=[chunk])
        assert refused.value.response["error"] == "invalid_arguments", chunk
    good = {"type": "task_update", "id": "a", "title": "t", "status": "in_progress"}
    await client.chat_appendStream(channel="C1", ts=ts, chunks=[good])  # no text needed
    await client.chat_appendStream(channel="C1", ts=ts, chunks=[good | {"status": "complete"}])
    assert fake.task_updates("C1", ts) == [("a", "in_progress"), ("a", "complete")]
    assert [c["status"] for c in fake.task_cards("C1", ts)] == ["complete"]


async def test_a_streamed_answer_shows_its_steps_in_order_and_ends_them_complete(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    steps = _steps()
    reply = _reply(client, steps)
    await reply.start("Looking at your screenshot…")
    text = ""
    for word in ("The ", "package ", "is ", "missing."):
        text += word
        await reply.progress(text)
    await reply.finish(text)
    [ts] = fake.stream_messages("C1", "1.0")
    cards = fake.task_cards("C1", ts)
    assert [(c["title"], c["status"]) for c in cards] == [
        ("Reading 2 screenshot(s)", "complete"),
        ("Reading app.log", "complete"),
        ("Writing the answer", "complete"),
    ]
    assert ("write-answer", "in_progress") in fake.task_updates("C1", ts)
    assert fake.streamed_text("C1", ts) == text
    assert len(_card_calls(fake)) == steps.updates == MAX_STEP_UPDATES


async def test_an_answer_that_breaks_off_ends_its_steps_in_error(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    reply = _reply(client, _steps())
    await reply.start("Looking into it…")
    await reply.progress("Half an answer")
    await reply.broke_off("Half an answer", "the model failed")
    [ts] = fake.stream_messages("C1", "1.0")
    statuses = {c["id"]: c["status"] for c in fake.task_cards("C1", ts)}
    assert statuses == {
        "read-screenshots": "complete",
        "read-file-0": "complete",
        "write-answer": "error",
    }
    assert fake.streamed_text("C1", ts).endswith(":warning: the model failed")


async def test_many_pieces_still_send_the_cards_twice_within_the_tier(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    steps = _steps()
    reply = _reply(client, steps)
    await reply.start("Looking into it…")
    text = ""
    for index in range(60):
        text += f"word{index} "
        await reply.progress(text)
    await reply.finish(text)
    assert len(_card_calls(fake)) == MAX_STEP_UPDATES
    assert not [c for c in fake.calls() if c.method.endswith("!429")]


async def test_without_streaming_the_status_line_names_the_current_step(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    steps = AnswerSteps(Language.ENGLISH)
    reply = _reply(client, steps, streaming=False)
    await reply.start("Looking into it…")
    steps.record(Step("read-file-0", "Reading app.log", StepStatus.COMPLETE))
    await reply.show_step()  # done already: the status line does not claim it
    steps.record(Step("search", "Searching <!here> runbooks", StepStatus.IN_PROGRESS))
    await reply.show_step()
    await reply.show_step()  # unchanged: not sent again
    await reply.finish("The answer.")
    assert fake.statuses("C1", "1.0") == [
        "Looking into it…",
        "Searching &lt;!here&gt; runbooks…",
        "",
    ]
    assert not _card_calls(fake)


@given(st.text(st.sampled_from(list("<>&!@#^|`* \nabc")) | st.characters(), max_size=600))
@example(">")
def test_no_title_can_form_a_mention_or_outgrow_a_card(title: str) -> None:
    chunk = task_chunk(Step("s", title, StepStatus.IN_PROGRESS))
    # A title is one line: only its first character may stay a `>` (a quote marker, which
    # with no `<` anywhere closes nothing), as `escape` keeps it at any line's start.
    assert "<" not in chunk["title"] and ">" not in chunk["title"][1:]
    assert len(chunk["title"]) <= 256


def test_only_web_links_become_sources() -> None:
    sources = (StepSource("javascript:alert(1)", "x"), StepSource("file:///etc/passwd", "y"))
    assert "sources" not in task_chunk(Step("s", "t", StepStatus.COMPLETE, sources))


async def test_a_failure_before_the_first_word_ends_the_step_under_way_in_error(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    steps = _steps()
    reply = _reply(client, steps)
    await reply.start("Looking into it…")
    steps.record(Step("search-knowledge", "Searching runbooks", StepStatus.IN_PROGRESS))
    await reply.fail("the knowledge base is down")
    [ts] = fake.stream_messages("C1", "1.0")
    statuses = {c["id"]: c["status"] for c in fake.task_cards("C1", ts)}
    # The search broke; the answer was never begun, so no card claims it was written.
    assert statuses == {
        "read-screenshots": "complete",
        "read-file-0": "complete",
        "search-knowledge": "error",
    }
    assert fake.streamed_text("C1", ts) == ":warning: the knowledge base is down"
    assert not fake.is_streaming("C1", ts)
    assert len(_card_calls(fake)) == steps.updates == 1


async def test_a_failure_without_streaming_is_told_in_place_with_no_cards(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    reply = _reply(client, _steps(), streaming=False)
    await reply.start("Looking into it…")
    await reply.fail("the model is busy")
    assert not fake.stream_messages("C1", "1.0")
    [posted] = fake.thread_messages("C1", "1.0")
    assert fake.final_text("C1", posted.args["_ts"]) == ":warning: the model is busy"
