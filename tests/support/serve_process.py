"""`supportbot serve` as a separate process, the way an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import free_port


def supportbot_command(*args: str) -> list[str]:
    """The installed console script, as a user runs it."""
    return [str(Path(sys.executable).parent / "supportbot"), *args]


def clean_environment(**values: str) -> dict[str, str]:
    """This process's environment without any supportbot settings, plus `values`."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_", "MODEL"))}
    return keep | {"HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"} | values


def wait_until_ready(
    url: str, process: subprocess.Popen[Any], *, path: str = "/readyz", timeout: float = 120
) -> None:
    """Poll `url + path` until it answers 200; fail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"{process.args!r} exited: {output!r}")
        try:
            if httpx.get(f"{url}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url}{path} did not become ready")
        time.sleep(0.2)


def serve_settings(
    *, slack_url: str, token: str, secret: str, redis_url: str, redis_prefix: str, model: Path
) -> dict[str, str]:
    """Settings for a served bot that talks to a fake Slack at `slack_url`."""
    return {
        "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": secret,
        "SLACK_API_URL": f"{slack_url}/api/",
        "SLACK_FILE_URL_PREFIXES": f"{slack_url}/files/",
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "MODEL": str(model),
    }


def start_serve(
    *, output: int | None = subprocess.PIPE, **settings: str
) -> tuple[subprocess.Popen[Any], str]:
    """Start `supportbot serve` with `settings` as env vars; return it once ready, and its URL."""
    port = free_port()
    process = subprocess.Popen(
        supportbot_command("serve"),
        env=clean_environment(PORT=str(port), HOST="127.0.0.1", **settings),
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_ready(url, process)
    return process, url


@contextmanager
def serve_process(**settings: str) -> Iterator[str]:
    """Run `supportbot serve` with `settings` as env vars until it is ready; yield its URL."""
    process, url = start_serve(output=subprocess.PIPE, **settings)
    try:
        yield url
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=60)
        print(output)
