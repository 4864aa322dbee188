"""MODEL=auto end to end: the choice, the fit check, the load and an answer.

The tiny checkpoint is put in a Hugging Face cache (the layout huggingface_hub
writes: refs/main naming a snapshot) under the id `MODEL=auto` takes on a CPU,
Qwen/Qwen3-VL-2B-Instruct, so the whole path runs offline: the published size
is checked against this machine's free RAM, the files are found in the cache, the
model loads and answers.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.screenshots import render_error_screenshot
from tests.support.serve_process import clean_environment, supportbot_command

pytestmark = pytest.mark.slow

CPU_CHOICE = "Qwen/Qwen3-VL-2B-Instruct"
REVISION = "0" * 40


def _cache_holding(checkpoint: Path, model_id: str, home: Path) -> Path:
    repo = home / "hub" / f"models--{model_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(REVISION)
    shutil.copytree(checkpoint, repo / "snapshots" / REVISION)
    return home


def _run(*args: str, home: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        supportbot_command(*args),
        # bfloat16 keeps the 2B model's published need (about 5.8 GiB) under a small CI box's RAM.
        env=clean_environment(
            **({"HF_HOME": str(home), "DEVICE": "cpu", "DTYPE": "bfloat16"} | variables)
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_auto_chooses_checks_loads_and_answers(tiny_checkpoint: Path, tmp_path: Path) -> None:
    home = _cache_holding(tiny_checkpoint, CPU_CHOICE, tmp_path / "hf")
    screenshot = tmp_path / "err.png"
    screenshot.write_bytes(render_error_screenshot())
    result = _run("diagnose", str(screenshot), "-q", "what is this?", home=home, MAX_NEW_TOKENS="8")
    assert result.returncode == 0, result.stderr
    assert f"MODEL=auto chose {CPU_CHOICE}: cpu with " in result.stderr
    assert "GiB free, it needs about 5.8 GiB (weights 4.0 GiB and a batch)" in result.stderr
    assert result.stdout.strip(), "an answer was printed"


def test_the_doctor_shows_the_choice_and_its_numbers(tiny_checkpoint: Path, tmp_path: Path) -> None:
    home = _cache_holding(tiny_checkpoint, CPU_CHOICE, tmp_path / "hf")
    result = _run("doctor", home=home)
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert f"MODEL=auto chose {CPU_CHOICE}" in rows["choice"] and "GiB free" in rows["choice"]
    assert rows["model"].split()[1] == "ok", result.stdout


def test_an_explicit_model_too_large_for_the_machine_is_refused_before_downloading(
    tmp_path: Path,
) -> None:
    # 8B in float32 on a CPU: about 36 GiB. Offline and uncached, so only the published
    # size can refuse it; without the check the command would end on "not in the cache".
    result = _run(
        "diagnose",
        "-q",
        "why?",
        home=tmp_path / "empty",
        MODEL="Qwen/Qwen3-VL-8B-Instruct",
        DTYPE="float32",
    )
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    assert last.startswith("supportbot: MODEL=Qwen/Qwen3-VL-8B-Instruct needs about 35.9 GiB")
    assert last.endswith(f"MODEL={CPU_CHOICE} fits (or MODEL=auto)")
