"""A `supportbot serve` killed mid-answer: the next process answers the question, once."""

from __future__ import annotations

import signal
import subprocess
import time

import httpx
import pytest

from tests.scenario.conftest import ServeSettings
from tests.support.fake_slack import BOT_USER_ID, FakeSlack
from tests.support.screenshots import render_error_screenshot
from tests.support.serve_process import start_serve
from tests.support.servers import ServerThread
from tests.support.slack_events import encode, envelope, file_object, message_event, signed_headers

pytestmark = pytest.mark.slow

TOKEN = "xoxb-crash-test-0001"
SECRET = "crash-test-secret"


def _start(settings: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    return start_serve(output=subprocess.DEVNULL, **settings)


def test_a_question_in_flight_when_the_process_dies_is_answered_once_after_restart(
    settings_for_serve: ServeSettings,
) -> None:
    slack = FakeSlack(bot_token=TOKEN)
    slack.add_file("slow.png", render_error_screenshot())
    slack.delay_file("slow.png", 15)  # the first process is stuck downloading when it dies
    with ServerThread(slack.app) as slack_server:
        settings = settings_for_serve(slack_server.url, TOKEN, SECRET) | {
            "MAX_NEW_TOKENS": "8",
            "SLACK_STREAMING": "false",
            "SLACK_WORK_LEASE_SECONDS": "3",
            "RECOVERY_INTERVAL_SECONDS": "1",
        }
        first, url = _start(settings)
        event = message_event(
            channel="CCRASH",
            kind="app_mention",
            text=f"<@{BOT_USER_ID}> what does this mean?",
            files=[file_object("slow.png", slack_server.url)],
        )
        body = encode(envelope(event))
        assert (
            httpx.post(
                f"{url}/slack/events", content=body, headers=signed_headers(SECRET, body)
            ).status_code
            == 200
        )
        slack.wait_for(lambda: slack.downloads("slow.png") == 1)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        slack.delay_file("slow.png", 0)
        second, _ = _start(settings)
        try:

            def answers() -> list[str]:
                texts = [
                    slack.final_text("CCRASH", c.args["_ts"])
                    for c in slack.thread_messages("CCRASH", event["ts"])
                ]
                return [t for t in texts if t and not t.startswith("_") and not t.endswith(" …")]

            slack.wait_for(answers, timeout=60)
            time.sleep(3)  # another recovery round must not answer again
            assert len(answers()) == 1
            assert slack.downloads("slow.png") == 2
        finally:
            second.terminate()
            second.wait(timeout=60)
