"""The engine and its GPU tests need only torch and transformers (what a GPU box has).

`bench/gpu_check.sh` runs `tests/gpu` on a machine with python3, torch,
transformers, pillow, numpy and pytest and nothing else. This checks, in a
fresh interpreter with pytest's plugin autoloading off (as there), that
importing the in-process engine and collecting those tests imports none of
the bot's server, storage or test-only packages. (hypothesis is left out:
the root conftest registers its profile when it is installed. docs/benchmarks.md
records the same run in a virtual environment holding only those packages.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]

NOT_ON_A_GPU_BOX = {
    "aiohttp",
    "fastapi",
    "handlers",  # httpx is not here: huggingface_hub, which transformers needs, uses it
    "prometheus_client",
    "pydantic_settings",
    "pytest_asyncio",
    "redis",
    "slack_bolt",
    "slack_sdk",
    "starlette",
    "uvicorn",
}

PROBE = """
import json, sys
import pytest
import bot.engine.transformers_engine, bot.engine.scheduler
rc = pytest.main(["tests/gpu", "--collect-only", "-q", "-p", "no:cacheprovider", "-o", "addopts="])
print(json.dumps({"rc": int(rc), "modules": sorted({m.split(".")[0] for m in sys.modules}),
                  "bot": sorted(m for m in sys.modules if m.startswith("bot."))}))
"""


def test_the_engine_and_its_gpu_tests_import_nothing_a_gpu_box_lacks() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["rc"] == 0  # every gpu test collected
    assert "7 tests collected" in result.stdout
    assert not NOT_ON_A_GPU_BOX & set(report["modules"])
    # The engine imports nothing of the bot but its errors (and their messages).
    outside = {m for m in report["bot"] if not m.startswith("bot.engine")}
    assert outside == {"bot.errors", "bot.messages"}
