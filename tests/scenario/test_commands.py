"""The `supportbot` command as an operator runs it: real processes, settings from the env."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.settings import Settings, env_name
from handlers.helpdesks.registry import REGISTRY
from tests.scenario.conftest import ServeSettings
from tests.support.fake_slack import BOT_USER_ID, FakeSlack
from tests.support.screenshots import render_error_screenshot
from tests.support.serve_process import (
    clean_environment,
    serve_process,
    supportbot_command,
)
from tests.support.servers import ServerThread, free_port
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
    archive = tmp_path / "logs.zip"
    archive.write_bytes(b"PK\x03\x04" + bytes(range(256)))
    result = _diagnose(tiny_checkpoint, archive)
    assert result.returncode == 0, result.stderr
    assert (
        "skipped logs.zip: it is neither a PNG, JPEG, GIF or WebP image nor a text file"
        in result.stderr
    )


def test_diagnose_reads_a_log_file(tiny_checkpoint: Path, tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_text("npm ERR! code EACCES\n")
    result = _diagnose(tiny_checkpoint, log)
    assert result.returncode == 0, result.stderr
    assert "skipped" not in result.stderr


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"PORT": "not-a-port"}, "PORT"),
        ({"SLACK_BOT_TOKEN": "not-a-token"}, "SLACK_BOT_TOKEN"),
        ({}, "SLACK_BOT_TOKEN"),
    ],
)
def test_serve_stops_with_a_line_naming_a_bad_setting(
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
    first, *others = result.stderr.strip().splitlines()
    assert first.startswith(f"supportbot: {named} ")
    # Whatever else is missing is named too, one line each (no token: no secret either).
    assert all(line.startswith("supportbot: SLACK_") for line in others)


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


def _run(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        supportbot_command(*args),
        env=clean_environment(**variables),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_every_bad_setting_is_named_before_anything_heavy_starts() -> None:
    result = _run("serve", PORT="y", MAX_BATCH="x", LOG_LEVEL="debug")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split(" ")[1] for line in lines] == [
        "MAX_BATCH",
        "PORT",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
    ]
    assert all(line.startswith("supportbot: ") for line in lines)


def test_diagnose_with_a_model_path_that_does_not_exist_says_so(
    tmp_path: Path,
) -> None:
    screenshot = tmp_path / "err.png"
    screenshot.write_bytes(render_error_screenshot())
    missing = tmp_path / "no-such-model"
    result = _run("diagnose", str(screenshot), MODEL=str(missing))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"supportbot: MODEL={missing}: the directory {missing} does not exist; set MODEL to "
        "a checkpoint directory or a Hugging Face id such as Qwen/Qwen3-VL-8B-Instruct"
    )


def test_diagnose_offline_without_the_model_cached_says_how_to_get_it(tmp_path: Path) -> None:
    result = _run("diagnose", "--question", "why?", MODEL="acme/not-cached", HF_HOME=str(tmp_path))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("supportbot: MODEL=acme/not-cached is not in the Hugging Face cache")
    assert "hf download acme/not-cached" in last


def test_serve_stops_with_one_line_when_the_model_can_never_load(tmp_path: Path) -> None:
    slack = FakeSlack(bot_token=BOT_TOKEN)
    not_a_checkpoint = tmp_path / "empty-model"
    not_a_checkpoint.mkdir()
    with ServerThread(slack.app) as slack_server:
        result = _run(
            "serve",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=f"{slack_server.url}/api/",
            MODEL=str(not_a_checkpoint),
            HOST="127.0.0.1",
            PORT=str(free_port()),
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"supportbot: MODEL={not_a_checkpoint}: {not_a_checkpoint} has no config.json, so it "
        "is not a Hugging Face checkpoint (save one with save_pretrained, or download with "
        "`hf download`)"
    )
    # The client carries the token Bolt would have read itself: no warning about it.
    assert "will be unused" not in result.stderr
    assert "Traceback" not in result.stderr


def test_version_and_help() -> None:
    version = _run("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == "supportbot 0.1.0"
    usage = _run("diagnose")
    assert usage.returncode == 2
    assert usage.stderr.startswith("usage: supportbot diagnose")
    help_text = _run("serve", "--help").stdout
    assert "Settings come from environment variables" in help_text
    for name in Settings.model_fields:
        assert f"  {env_name(name)} " in help_text, name
    # Each helpdesk's own settings are listed beside the shared ones.
    for name in REGISTRY.setting_fields:
        assert f"  {env_name(name)} " in help_text, name


def test_diagnose_names_a_file_it_cannot_read_before_loading_any_model(tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    # MODEL points nowhere: a model load would end with its own, different line.
    result = _run("diagnose", str(missing), str(tmp_path), MODEL=str(tmp_path / "no-model"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"supportbot: cannot read {missing}: No such file or directory",
        f"supportbot: cannot read {tmp_path}: Is a directory",
    ]


@pytest.mark.parametrize("command", ["serve", "diagnose", "doctor", "eval"])
def test_each_command_says_what_it_does_before_importing_torch(
    command: str, tmp_path: Path
) -> None:
    screenshot = tmp_path / "err.png"
    screenshot.write_bytes(render_error_screenshot())
    args = {"serve": [], "diagnose": [str(screenshot)], "doctor": [], "eval": ["--limit", "1"]}
    # Python's own import log (-X importtime) goes to stderr in order with our lines.
    result = _run(
        command,
        *args[command],
        PYTHONPROFILEIMPORTTIME="1",
        MODEL=str(tmp_path / "no-model"),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL="http://127.0.0.1:9/api/",
        PORT=str(free_port()),
    )
    lines = result.stderr.splitlines()
    ours = next(i for i, line in enumerate(lines) if line.startswith("supportbot: "))
    # A module's line is written when it finishes, its submodules' before it.
    torch = [i for i, line in enumerate(lines) if re.search(r"\|\s*torch(\.|\s*$)", line)]
    assert torch, "the command imported torch (the local engine) at some point"
    assert ours < torch[0]
