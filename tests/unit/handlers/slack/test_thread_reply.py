"""The thread reply against the fake Slack over HTTP: what one answer shows, step by step."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.thread_reply import (
    SlackThreadReply,
    StatusSupport,
    StreamingSupport,
    ThreadPlace,
)
from tests.support.fake_slack import FakeSlack
from tests.support.servers import ServerThread

TOKEN = "xoxb-reply-test"
PLACE = ThreadPlace(channel="C1", thread_ts="1.0", message_ts="1.0", team_id="T1", user_id="U1")


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlack, str]]:
    fake = FakeSlack(bot_token=TOKEN)
    with ServerThread(fake.app) as server:
        yield fake, server.url


async def test_an_answer_that_breaks_off_keeps_what_was_shown_and_says_so(
    slack: tuple[FakeSlack, str],
) -> None:
    fake, url = slack
    client = AsyncWebClient(token=TOKEN, base_url=f"{url}/api/")
    reply = SlackThreadReply(
        client, PLACE, streaming=StreamingSupport(enabled=False), update_interval=0
    )
    await reply.start("Looking into it…")
    await reply.progress("The error means the package is missing. Run")
    await reply.broke_off(
        "The error means the package is missing. Run", "the answer above is incomplete"
    )
    [placeholder] = fake.thread_messages("C1", "1.0")
    final = fake.final_text("C1", placeholder.args["_ts"])
    assert final.startswith("The error means the package is missing. Run")
    assert final.endswith(":warning: the answer above is incomplete")
    assert fake.statuses("C1", "1.0") == ["Looking into it…", ""], "the status is cleared"


async def test_a_long_answer_is_split_into_several_messages_in_the_thread(
    slack: tuple[FakeSlack, str],
) -> None:
    fake, url = slack
    client = AsyncWebClient(token=TOKEN, base_url=f"{url}/api/")
    reply = SlackThreadReply(client, PLACE, streaming=StreamingSupport(enabled=False))
    await reply.start("Looking into it…")
    words = [f"step{i}" for i in range(1500)]
    await reply.finish(" ".join(words))
    posts = fake.thread_messages("C1", "1.0")
    texts = [fake.final_text("C1", p.args["_ts"]) for p in posts]
    assert len(texts) > 1 and all(len(t) <= 3000 for t in texts)
    assert " ".join(texts).split() == words


async def test_where_slack_shows_no_status_a_reaction_and_placeholder_stand_in(
    slack: tuple[FakeSlack, str],
) -> None:
    fake, url = slack
    fake.scopes = "reactions:write"  # an install without chat:write for setStatus
    client = AsyncWebClient(token=TOKEN, base_url=f"{url}/api/")
    status = StatusSupport()
    reply = SlackThreadReply(
        client, PLACE, streaming=StreamingSupport(enabled=False), status=status
    )
    fake.scopes = "reactions:write,chat:write"
    fake.refuse_next("assistant.threads.setStatus", "missing_scope")
    await reply.start("Looking into it…")
    await reply.finish("The answer.")
    [placeholder] = fake.thread_messages("C1", "1.0")
    assert placeholder.args["text"] == "_Looking into it…_"
    assert fake.final_text("C1", placeholder.args["_ts"]) == "The answer."
    assert fake.calls("reactions.add") and fake.calls("reactions.remove")
    assert not status.enabled, "not asked again"
