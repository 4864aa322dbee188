"""ENGINE=remote against a real OpenAI-compatible server: `transformers serve` on the tiny checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import build_engine
from bot.engine import ChatMessage, EngineState, GenerationRequest, ImagePart, Role, TextPart
from bot.settings import Settings
from tests.support.fake_slack import BOT_USER_ID
from tests.support.running_bot import run_bot
from tests.support.screenshots import render_error_screenshot
from tests.support.serve_process import clean_environment, supportbot_command, wait_until_ready
from tests.support.servers import free_port
from tests.support.slack_events import file_object, message_event

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def openai_server(tiny_checkpoint: Path) -> Iterator[str]:
    port = free_port()
    executable = Path(sys.executable).parent / "transformers"
    process = subprocess.Popen(
        [str(executable), "serve", str(tiny_checkpoint), "--port", str(port), "--device", "cpu"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, path="/health")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _settings(url: str, checkpoint: Path) -> Settings:
    return Settings(
        _env_file=None, engine="remote", engine_url=url, model_id=str(checkpoint), max_new_tokens=12
    )


async def test_the_remote_engine_streams_an_answer_about_a_screenshot(
    openai_server: str, tiny_checkpoint: Path
) -> None:
    engine = build_engine(_settings(openai_server, tiny_checkpoint))
    await engine.start()
    assert engine.state is EngineState.READY
    request = GenerationRequest(
        messages=(
            ChatMessage(Role.SYSTEM, (TextPart("You diagnose errors."),)),
            ChatMessage(
                Role.USER, (ImagePart(render_error_screenshot()), TextPart("what is this?"))
            ),
        ),
        max_new_tokens=8,
    )
    pieces = [piece async for piece in engine.stream(request)]
    assert pieces and all(isinstance(p, str) for p in pieces)
    await engine.close()


async def test_an_unreachable_server_is_reported_not_fatal(tiny_checkpoint: Path) -> None:
    engine = build_engine(_settings(f"http://127.0.0.1:{free_port()}", tiny_checkpoint))
    await engine.start()
    assert engine.state is EngineState.FAILED and "unreachable" in (engine.failure or "")
    await engine.close()


def test_slack_answers_through_the_remote_engine(
    openai_server: str, tiny_checkpoint: Path, redis_url: str
) -> None:
    engine = build_engine(_settings(openai_server, tiny_checkpoint))
    with run_bot(engine, redis_url) as bot:
        bot.slack.add_file("remote.png", render_error_screenshot())
        event = message_event(
            channel="CREMOTE",
            kind="app_mention",
            text=f"<@{BOT_USER_ID}> what does this mean?",
            files=[file_object("remote.png", bot.slack_url)],
        )
        bot.post_event(event)
        [answer] = bot.wait_for_answer("CREMOTE", event["ts"])
        assert answer.strip()
        assert len(bot.engine.requests[-1].images) == 1


def test_the_eval_runs_against_a_remote_server(
    openai_server: str, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        supportbot_command("eval", "--limit", "1", "--out", str(tmp_path), "--no-progress"),
        env=clean_environment(
            ENGINE="remote",
            ENGINE_URL=openai_server,
            MODEL=str(tiny_checkpoint),
            MAX_NEW_TOKENS="12",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "results.json").read_text("utf-8"))
    assert document["meta"]["engine"] == "remote"
    assert "remote engine" in document["meta"]["resize"]["source"]
    [case] = document["cases"]
    assert case["error"] is None and case["answer"]
