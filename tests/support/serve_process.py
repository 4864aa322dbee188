"""`supportbot serve` as a separate process, the way an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.servers import free_port


def supportbot_command(*args: str) -> list[str]:
    """The installed console script, as a user runs it."""
    return [str(Path(sys.executable).parent / "supportbot"), *args]


def clean_environment(**values: str) -> dict[str, str]:
    """This process's environment without any supportbot settings, plus `values`."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_", "MODEL"))}
    return keep | {"HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"} | values


@contextmanager
def serve_process(**settings: str) -> Iterator[str]:
    """Run `supportbot serve` with `settings` as env vars until it is ready; yield its URL."""
    port = free_port()
    process = subprocess.Popen(
        supportbot_command("serve"),
        env=clean_environment(PORT=str(port), HOST="127.0.0.1", **settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise AssertionError(f"supportbot serve exited: {output}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("supportbot serve did not become ready")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=60)
        print(output)
