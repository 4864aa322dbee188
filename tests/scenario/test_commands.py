"""The `supportbot` command as an operator runs it: real processes, settings from the env."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.scenario.conftest import ServeSettings
from tests.support.fake_slack import BOT_USER_ID, FakeSlack
from tests.support.screenshots import render_error_screenshot
from tests.support.serve_process import (
    clean_environment,
    serve_process,
    supportbot_command,
)
from tests.support.servers import ServerThread
from tests.support.slack_events import encode, envelope, file_object, message_event, signed_headers

pytestmark = pytest.mark.slow

BOT_TOKEN = "xoxb-serve-test-0001"
SIGNING_SECRET = "serve-test-secret"


def _diagnose(checkpoint: Path, image: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        supportbot_command("diagnose", str(image), "--question", "what is this?"),
        env=clean_environment(MODEL=str(checkpoint), MAX_NEW_TOKENS="16"),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_diagnose_prints_an_answer_for_a_screenshot(tiny_checkpoint: Path, tmp_path: Path) -> None:
    screenshot = tmp_path / "err.png"
    screenshot.write_bytes(render_error_screenshot())
    result = _diagnose(tiny_checkpoint, screenshot)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "an answer was printed"


def test_diagnose_says_why_a_file_was_skipped(tiny_checkpoint: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    result = _diagnose(tiny_checkpoint, notes)
    assert result.returncode == 0, result.stderr
    assert "skipped notes.txt: it is not a PNG, JPEG, GIF or WebP image." in result.stderr


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"PORT": "not-a-port"}, "PORT"),
        ({"SLACK_BOT_TOKEN": "not-a-token"}, "SLACK_BOT_TOKEN"),
        ({}, "SLACK_BOT_TOKEN"),
    ],
)
def test_serve_stops_with_one_line_naming_a_bad_setting(
    variables: dict[str, str], named: str
) -> None:
    result = subprocess.run(
        supportbot_command("serve"),
        env=clean_environment(**variables),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"supportbot: {named} ")


@pytest.fixture
def served(
    settings_for_serve: ServeSettings,
) -> Iterator[tuple[str, FakeSlack, str]]:
    slack = FakeSlack(bot_token=BOT_TOKEN)
    with (
        ServerThread(slack.app) as slack_server,
        serve_process(
            **settings_for_serve(slack_server.url, BOT_TOKEN, SIGNING_SECRET),
            MAX_NEW_TOKENS="16",
        ) as url,
    ):
        yield url, slack, slack_server.url


def test_serve_loads_the_model_and_answers_a_mention(served: tuple[str, FakeSlack, str]) -> None:
    url, slack, slack_url = served
    assert httpx.get(f"{url}/healthz").status_code == 200
    slack.add_file("served.png", render_error_screenshot())
    event = message_event(
        channel="CSERVE",
        kind="app_mention",
        text=f"<@{BOT_USER_ID}> what does this mean?",
        files=[file_object("served.png", slack_url)],
    )
    body = encode(envelope(event))
    response = httpx.post(
        f"{url}/slack/events", content=body, headers=signed_headers(SIGNING_SECRET, body)
    )
    assert response.status_code == 200

    def answered() -> bool:  # the reply's last text, no longer a preview ending in " …"
        texts = [
            slack.final_text("CSERVE", c.args["_ts"])
            for c in slack.thread_messages("CSERVE", event["ts"])
        ]
        return bool(texts) and not texts[-1].endswith(" …")

    slack.wait_for(answered)
    [placeholder] = slack.thread_messages("CSERVE", event["ts"])
    assert slack.final_text("CSERVE", placeholder.args["_ts"]).strip()
    assert slack.downloads("served.png") == 1
