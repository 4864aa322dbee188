"""An `ENGINE=remote` replica, started before its model server, turns ready by itself.

The replica runs as `supportbot serve`, in this environment and, when
`SUPPORTBOT_SLIM_VENV` names one (`.ci/run` builds it with `pip install .`, no
`local` extra), in a virtual environment without torch or transformers. The model
server (`transformers serve` on the tiny checkpoint) always runs from this
environment: it is the one process here that needs them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.scenario.conftest import ServeSettings
from tests.support.fake_slack import BOT_USER_ID, FakeSlack
from tests.support.screenshots import render_error_screenshot
from tests.support.serve_process import clean_environment, wait_until_ready
from tests.support.servers import ServerThread, free_port
from tests.support.slack_events import encode, envelope, file_object, message_event, signed_headers

pytestmark = pytest.mark.slow

TOKEN = "xoxb-slim-replica-0001"
SECRET = "slim-replica-secret"
SLIM_VENV = os.environ.get("SUPPORTBOT_SLIM_VENV")


@pytest.fixture(params=["this environment", "slim venv"])
def replica_bin(request: pytest.FixtureRequest) -> Path:
    """The bin/ directory whose `supportbot` and `python` the replica runs with."""
    if request.param == "this environment":
        return Path(sys.executable).parent
    if not SLIM_VENV:
        pytest.skip("SUPPORTBOT_SLIM_VENV is not set (.ci/run builds the slim venv and sets it)")
    return Path(SLIM_VENV) / "bin"


def _model_server(checkpoint: Path, port: int) -> subprocess.Popen[Any]:
    executable = Path(sys.executable).parent / "transformers"
    return subprocess.Popen(
        [str(executable), "serve", str(checkpoint), "--port", str(port), "--device", "cpu"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def stop_later() -> Iterator[list[subprocess.Popen[Any]]]:
    processes: list[subprocess.Popen[Any]] = []
    yield processes
    for process in processes:
        process.terminate()
        output, _ = process.communicate(timeout=60)
        print(output)


def _readyz(url: str) -> httpx.Response | None:
    try:
        return httpx.get(f"{url}/readyz", timeout=2)
    except httpx.HTTPError:
        return None


def test_a_replica_started_before_its_model_server_becomes_ready_when_the_server_does(
    replica_bin: Path,
    tiny_checkpoint: Path,
    settings_for_serve: ServeSettings,
    stop_later: list[subprocess.Popen[Any]],
    tmp_path: Path,
) -> None:
    if replica_bin != Path(sys.executable).parent:
        probe = subprocess.run(
            [str(replica_bin / "python"), "-c", "import torch"], capture_output=True, check=False
        )
        assert probe.returncode != 0, "the slim venv must not have torch"
    model_port, bot_port = free_port(), free_port()
    # userinfo in the URL must never be shown, in the log or in /readyz.
    engine_url = f"http://probe:hunter2@127.0.0.1:{model_port}"
    slack = FakeSlack(bot_token=TOKEN)
    slack.add_file("slim.png", render_error_screenshot())
    with ServerThread(slack.app) as slack_server:
        settings = settings_for_serve(slack_server.url, TOKEN, SECRET) | {
            "ENGINE": "remote",
            "ENGINE_URL": engine_url,
            "MAX_NEW_TOKENS": "12",
            "SLACK_STREAMING": "false",
        }
        bot = subprocess.Popen(
            [str(replica_bin / "supportbot"), "serve"],
            env=clean_environment(PORT=str(bot_port), HOST="127.0.0.1", **settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        stop_later.append(bot)
        url = f"http://127.0.0.1:{bot_port}"
        wait_until_ready(url, bot, path="/healthz", timeout=60)
        deadline = time.monotonic() + 30
        while (waiting := _readyz(url)) is None or "waiting for" not in waiting.text:
            assert time.monotonic() < deadline, f"/readyz never said it waits: {waiting!r}"
            time.sleep(0.2)
        assert waiting.status_code == 503
        assert f"waiting for the model server at http://127.0.0.1:{model_port}" in waiting.text
        assert "next try in" in waiting.text and "last error" in waiting.text
        assert "hunter2" not in waiting.text and "probe@" not in waiting.text

        server = _model_server(tiny_checkpoint, model_port)
        stop_later.append(server)
        wait_until_ready(f"http://127.0.0.1:{model_port}", server, path="/health")
        # The longest wait between checks is 30 s; nothing restarts the replica.
        wait_until_ready(url, bot, timeout=60)

        event = message_event(
            channel="CSLIM",
            kind="app_mention",
            text=f"<@{BOT_USER_ID}> what does this mean?",
            files=[file_object("slim.png", slack_server.url)],
        )
        body = encode(envelope(event))
        posted = httpx.post(
            f"{url}/slack/events", content=body, headers=signed_headers(SECRET, body)
        )
        assert posted.status_code == 200

        def answered() -> bool:
            texts = [
                slack.final_text("CSLIM", call.args["_ts"])
                for call in slack.thread_messages("CSLIM", event["ts"])
            ]
            return any(t and not t.startswith("_") and not t.endswith(" …") for t in texts)

        slack.wait_for(answered)

        # The one-shot commands of a replica, from the same install, against the same server.
        commands = {"MODEL": str(tiny_checkpoint), "ENGINE": "remote", "ENGINE_URL": engine_url}
        out = tmp_path / "eval"
        command = ["eval", "--limit", "1", "--out", str(out), "--no-progress"]
        evaluation = subprocess.run(
            [str(replica_bin / "supportbot"), *command],
            env=clean_environment(MAX_NEW_TOKENS="8", **commands),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert evaluation.returncode == 0, evaluation.stderr
        assert (out / "report.html").is_file()
        doctor = subprocess.run(
            [str(replica_bin / "supportbot"), "doctor"],
            env=clean_environment(**commands),
            capture_output=True,
            text=True,
            timeout=120,
        )
        [model_row] = [line for line in doctor.stdout.splitlines() if line.startswith("model")]
        assert model_row.split()[1] == "ok", doctor.stdout
        assert "hunter2" not in doctor.stdout
    bot.terminate()
    output, _ = bot.communicate(timeout=60)
    stop_later.remove(bot)
    assert "waiting for the model server at" in output
    assert "hunter2" not in output


def test_the_local_engine_without_its_extra_says_in_one_line_what_to_install() -> None:
    if not SLIM_VENV:
        pytest.skip("SUPPORTBOT_SLIM_VENV is not set (.ci/run builds the slim venv and sets it)")
    result = subprocess.run(
        [str(Path(SLIM_VENV) / "bin" / "supportbot"), "diagnose", "-q", "why?"],
        env=clean_environment(ENGINE="local"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("supportbot: ENGINE=local needs torch")
    assert 'pip install "supportbot[local]"' in last and "Traceback" not in result.stderr
