"""Two `supportbot serve` processes share one Redis: one answer per message, one shared history."""

from __future__ import annotations

import httpx
import pytest

from tests.scenario.conftest import ServeSettings
from tests.support.fake_slack import BOT_USER_ID, FakeSlack
from tests.support.screenshots import render_error_screenshot
from tests.support.serve_process import serve_process
from tests.support.servers import ServerThread
from tests.support.slack_events import (
    encode,
    envelope,
    file_object,
    message_event,
    next_ts,
    signed_headers,
)

pytestmark = pytest.mark.slow

TOKEN = "xoxb-replica-test-0001"
SECRET = "replica-test-secret"


def _post(url: str, event: dict[str, object], event_id: str | None = None) -> None:
    body = encode(envelope(event, event_id=event_id))
    response = httpx.post(f"{url}/slack/events", content=body, headers=signed_headers(SECRET, body))
    assert response.status_code == 200


def test_two_replicas_answer_each_message_once_and_share_the_thread(
    settings_for_serve: ServeSettings,
) -> None:
    slack = FakeSlack(bot_token=TOKEN)
    slack.add_file("shared.png", render_error_screenshot())
    with ServerThread(slack.app) as slack_server:
        settings = settings_for_serve(slack_server.url, TOKEN, SECRET) | {
            "MAX_NEW_TOKENS": "12",
            "SLACK_STREAMING": "false",
        }
        with serve_process(**settings) as first, serve_process(**settings) as second:
            ts = next_ts()
            files = [file_object("shared.png", slack_server.url)]
            text = f"<@{BOT_USER_ID}> what does this mean?"
            mention = message_event(
                channel="CREP", kind="app_mention", text=text, ts=ts, files=files
            )
            share = message_event(
                channel="CREP", text=text, ts=ts, files=files, subtype="file_share"
            )
            # Slack delivers the pair to whichever replica, and retries to the other.
            _post(first, mention, event_id="EvREPLICA1")
            _post(second, share, event_id="EvREPLICA2")
            _post(second, mention, event_id="EvREPLICA1")

            def answered(thread_ts: str, count: int) -> bool:
                texts = [
                    slack.final_text("CREP", c.args["_ts"])
                    for c in slack.thread_messages("CREP", thread_ts)
                ]
                done = [t for t in texts if t and not t.startswith("_") and not t.endswith(" …")]
                return len(done) >= count

            slack.wait_for(lambda: answered(ts, 1))
            follow_up = message_event(channel="CREP", text="still failing", thread_ts=ts)
            # Both replicas see the follow-up: each knows the thread from Redis, one answers.
            _post(first, follow_up, event_id="EvREPLICA3")
            _post(second, follow_up, event_id="EvREPLICA3")
            slack.wait_for(lambda: answered(ts, 2))
            assert len(slack.thread_messages("CREP", ts)) == 2, "one answer per message"
            assert slack.downloads("shared.png") == 1, "the other replica used the shared history"
