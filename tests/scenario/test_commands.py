"""The `supportbot` command as an operator runs it: real processes, settings from the env."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.fake_slack import BOT_USER_ID, FakeSlack
from tests.support.screenshots import render_error_screenshot
from tests.support.servers import ServerThread, free_port
from tests.support.slack_events import encode, envelope, file_object, message_event, signed_headers

pytestmark = pytest.mark.slow

BOT_TOKEN = "xoxb-serve-test-0001"
SIGNING_SECRET = "serve-test-secret"


def _environment(**values: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_", "MODEL"))}
    return keep | {"HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"} | values


def _supportbot(*args: str) -> list[str]:
    """The installed console script, as a user runs it."""
    return [str(Path(sys.executable).parent / "supportbot"), *args]


def _diagnose(checkpoint: Path, image: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _supportbot("diagnose", str(image), "--question", "what is this?"),
        env=_environment(MODEL=str(checkpoint), MAX_NEW_TOKENS="16"),
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
        _supportbot("serve"),
        env=_environment(**variables),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"supportbot: {named} ")


@pytest.fixture
def served(
    tiny_checkpoint: Path, redis_url: str, redis_prefix: str
) -> Iterator[tuple[str, FakeSlack, str]]:
    slack = FakeSlack(bot_token=BOT_TOKEN)
    with ServerThread(slack.app) as slack_server:
        port = free_port()
        process = subprocess.Popen(
            _supportbot("serve"),
            env=_environment(
                SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_API_URL=f"{slack_server.url}/api/",
                SLACK_FILE_URL_PREFIXES=f"{slack_server.url}/files/",
                REDIS_URL=redis_url,
                REDIS_KEY_PREFIX=redis_prefix,
                MODEL=str(tiny_checkpoint),
                MAX_NEW_TOKENS="16",
                PORT=str(port),
                HOST="127.0.0.1",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            slack.wait_for(lambda: _ready(url, process), timeout=120)
            yield url, slack, slack_server.url
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=30)
            print(output)


def _ready(url: str, process: subprocess.Popen[str]) -> bool:
    if process.poll() is not None:
        raise AssertionError(
            f"supportbot serve exited: {process.stdout.read() if process.stdout else ''}"
        )
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


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

    def answered() -> bool:
        updates = [c for c in slack.calls("chat.update") if c.args.get("channel") == "CSERVE"]
        return bool(updates) and not updates[-1].args["text"].endswith(" …")

    slack.wait_for(answered)
    [placeholder] = slack.thread_messages("CSERVE", event["ts"])
    assert slack.final_text("CSERVE", placeholder.args["_ts"]).strip()
    assert slack.downloads("served.png") == 1
