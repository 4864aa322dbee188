"""`ENGINE=remote` never imports the local engine's packages: a slim replica has none.

Checked in a fresh interpreter: everything `serve`, `doctor` and `eval` import with
`ENGINE=remote`, the remote engine built and started (against a port nothing
listens on), the model server's embeddings built (`EMBEDDING_MODEL=remote:...`),
and none of torch, transformers or their companions is loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[4]
LOCAL_ONLY = {"torch", "torchvision", "transformers", "accelerate", "peft", "huggingface_hub"}

PROBE = """
import asyncio, json, sys
import bot.cli, bot.app, bot.app.doctor, bot.app.doctor_remote, bot.app.local
import bot.evaluation.command, bot.evaluation.running, bot.evaluation.reporting
from bot.app import build_app, build_engine
from bot.app.doctor import run_checks
from bot.app.knowledge import build_embedder
from bot.evaluation.legibility import qwen3_vl_rule
from bot.settings import Settings

settings = Settings(_env_file=None, engine="remote", engine_url=sys.argv[1],
                    slack_bot_token="xoxb-probe", slack_signing_secret="probe",
                    embedding_model="remote:probe-embedder")
build_app(settings)
assert build_embedder(settings).name == "remote:probe-embedder"
qwen3_vl_rule(1310720).input_size(2880, 1800)

async def main():
    engine = build_engine(settings)
    await engine.start()
    await engine.close()
    await run_checks(settings)

asyncio.run(main())
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_the_remote_engines_path_imports_no_local_engine_package() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, f"http://127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "openai" in loaded  # the probe did reach the remote engine
    assert not LOCAL_ONLY & loaded, sorted(LOCAL_ONLY & loaded)
