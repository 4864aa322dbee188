"""A model that does not load says why in one line, and only what can heal is retried.

The errors come from the real libraries: transformers loading a path that is not
there, huggingface_hub reading an empty cache, and huggingface_hub's HTTP client
talking to a fake Hub that answers as the Hub documents its errors.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from huggingface_hub import HfApi, hf_hub_download
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from transformers import AutoConfig

from bot.engine.device import device_problem
from bot.engine.footprint import fit_problem, footprint
from bot.engine.load_failure import explain, looks_like_a_path, source_problem
from bot.engine.protocol import EngineState
from bot.engine.transformers_engine import TransformersEngine
from tests.support.servers import ServerThread


class FakeHub:
    """Answers model look-ups with the status and `X-Error-Code` the Hub uses.

    huggingface_hub maps them to its errors in `hf_raise_for_status`:
    https://huggingface.co/docs/huggingface_hub/package_reference/utilities#huggingface_hub.utils.hf_raise_for_status
    (RepoNotFound → RepositoryNotFoundError, GatedRepo → GatedRepoError, others → HfHubHTTPError).
    """

    def __init__(self) -> None:
        self.app = Starlette(routes=[Route("/api/models/{org}/{name}", self._model)])

    async def _model(self, request: Request) -> JSONResponse:
        name = request.path_params["name"]
        if name == "missing":
            return JSONResponse(
                {"error": "Repository not found"},
                status_code=401,
                headers={"X-Error-Code": "RepoNotFound"},
            )
        if name == "gated":
            return JSONResponse(
                {"error": "Access to model is restricted"},
                status_code=403,
                headers={"X-Error-Code": "GatedRepo"},
            )
        if name == "busy":
            return JSONResponse({"error": "Too many requests"}, status_code=429)
        return JSONResponse({"error": "Service unavailable"}, status_code=503)


@pytest.fixture(scope="module")
def fake_hub() -> Iterator[str]:
    with ServerThread(FakeHub().app) as server:
        yield server.url


def _hub_error(hub: str, model: str) -> BaseException:
    with pytest.raises(Exception) as raised:
        HfApi(endpoint=hub).model_info(model, timeout=5)
    return raised.value


@pytest.mark.parametrize(
    ("model", "says", "retryable"),
    [
        ("acme/missing", "neither a local directory nor a model on the Hugging Face Hub", False),
        ("acme/gated", "gated model: accept its terms at https://huggingface.co/acme/gated", False),
        ("acme/busy", "answered 429", True),
        ("acme/down", "answered 503", True),
    ],
)
def test_hub_answers_are_explained(fake_hub: str, model: str, says: str, retryable: bool) -> None:
    failure = explain(_hub_error(fake_hub, model), model=model, offline=False)
    assert says in failure.reason
    assert failure.retryable is retryable
    assert "\n" not in failure.reason


def test_a_missing_directory_is_called_a_missing_directory(tmp_path: Path) -> None:
    model = str(tmp_path / "no-such-model")
    with pytest.raises(OSError) as raised:  # transformers says "Repo id must be in the form…"
        AutoConfig.from_pretrained(model)
    failure = explain(raised.value, model=model)
    assert failure.reason.startswith(f"MODEL={model}: the directory {model} does not exist")
    assert not failure.retryable


def test_a_directory_without_a_config_is_not_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\0")
    problem = source_problem(str(tmp_path))
    assert problem is not None and "has no config.json" in problem


def test_an_invalid_hub_id_says_what_an_id_looks_like() -> None:
    with pytest.raises(OSError) as raised:
        AutoConfig.from_pretrained("not a model!!")
    failure = explain(raised.value, model="not a model!!")
    assert "neither an existing directory nor a Hugging Face id" in failure.reason


def test_not_cached_is_final_offline_and_retried_online(tmp_path: Path) -> None:
    with pytest.raises(OSError) as raised:
        hf_hub_download("acme/model", "config.json", cache_dir=tmp_path, local_files_only=True)
    offline = explain(raised.value, model="acme/model", offline=True)
    assert not offline.retryable
    assert "HF_HUB_OFFLINE=1" in offline.reason and "hf download acme/model" in offline.reason
    online = explain(raised.value, model="acme/model", offline=False)
    assert online.retryable and "could not be reached" in online.reason


def test_running_out_of_memory_is_final() -> None:
    failure = explain(torch.OutOfMemoryError("CUDA out of memory."), model="acme/model")
    assert not failure.retryable and "does not fit in memory" in failure.reason


def test_an_unknown_error_is_final_and_named() -> None:
    failure = explain(RuntimeError("weights are\ncorrupt"), model="acme/model")
    assert failure == failure.__class__(
        "MODEL=acme/model failed to load: RuntimeError: weights are", retryable=False
    )


@given(st.text(min_size=1, max_size=40))
def test_any_model_name_gets_one_line(name: str) -> None:
    failure = explain(OSError("boom\nmore"), model=name.replace("\n", " "))
    assert "\n" not in failure.reason.replace(name, "")


def test_a_home_that_does_not_exist_is_just_a_missing_path() -> None:
    failure = explain(OSError("boom"), model="~0")  # no user "0": no home to expand
    assert failure.reason.startswith("MODEL=~0: the directory ~0 does not exist")


def test_paths_and_hub_ids_are_told_apart() -> None:
    assert looks_like_a_path("/models/qwen") and looks_like_a_path("./qwen")
    assert looks_like_a_path("~/models/qwen") and looks_like_a_path("models/qwen/v2")
    assert not looks_like_a_path("Qwen/Qwen3-VL-8B-Instruct")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_gpu_asked_for_and_absent_is_named() -> None:
    problem = device_problem("cuda")
    assert problem is not None and problem.startswith("DEVICE=cuda but no CUDA device")


def test_the_weights_footprint_is_read_from_the_files(tiny_checkpoint: Path) -> None:
    found = footprint(str(tiny_checkpoint), bytes_per_parameter=4)
    assert found is not None and found.directory == tiny_checkpoint
    on_disk = sum(p.stat().st_size for p in tiny_checkpoint.glob("*.safetensors"))
    assert found.weights_bytes >= on_disk  # stored in 32 or fewer bits, loaded as float32
    fits = fit_problem("m", weights_bytes=found.weights_bytes, device="cpu", free_bytes=2**40)
    assert fits is None
    problem = fit_problem("m", weights_bytes=40 * 2**30, device="cpu", free_bytes=8 * 2**30)
    assert problem == (
        "MODEL=m needs about 40.0 GiB for its weights but cpu has 8.0 GiB free; use a GPU "
        "with more memory, DTYPE=bfloat16 (half of float32), a smaller model, or ENGINE=remote"
    )


async def test_a_permanent_failure_is_not_retried(tmp_path: Path) -> None:
    engine = TransformersEngine(str(tmp_path / "gone"), device="cpu", retry_delays=(0.01,))
    await engine.start()
    assert engine.state is EngineState.FAILED
    assert engine.failure is not None and "does not exist" in engine.failure
    assert engine.progress is None
    await engine.close()


async def test_a_checkpoint_without_config_fails_before_any_download(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_checkpoint, broken)
    (broken / "config.json").unlink()
    engine = TransformersEngine(str(broken), device="cpu")
    await engine.start()
    assert engine.failure == source_problem(str(broken))
    await engine.close()


def test_download_retries_are_logged_once_through_the_process_handler(
    tiny_engine: TransformersEngine,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # What huggingface_hub logs while it retries a download (its http_backoff).
    line = "Retrying in 1s [Retry 1/5]."
    with caplog.at_level(logging.WARNING):
        logging.getLogger("huggingface_hub.utils._http").warning(line)
        logging.getLogger("transformers.modeling_utils").warning("a transformers warning")
    assert [r.getMessage() for r in caplog.records] == [line, "a transformers warning"]
    printed = capfd.readouterr().err
    assert line not in printed, "no second copy from the library's own handler"
    assert "a transformers warning" not in printed


class FlakyHub:
    """A Hub that is down (503) for its first `down` look-ups, then says the repo is unknown."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.lookups = 0
        self.app = Starlette(routes=[Route("/api/models/{org}/{name}", self._model)])

    async def _model(self, request: Request) -> JSONResponse:
        self.lookups += 1
        if self.lookups <= self.down:
            return JSONResponse({"error": "Service unavailable"}, status_code=503)
        return JSONResponse(
            {"error": "Repository not found"},
            status_code=401,
            headers={"X-Error-Code": "RepoNotFound"},
        )


@pytest.mark.slow
def test_a_hub_that_is_down_is_retried_until_it_answers(tmp_path: Path) -> None:
    # huggingface_hub reads HF_ENDPOINT once, at import: the engine runs in its own process.
    script = (
        "import asyncio, logging\n"
        "from bot.engine.transformers_engine import TransformersEngine\n"
        "logging.basicConfig(level=logging.WARNING, format='%(levelname)s %(message)s')\n"
        "engine = TransformersEngine('acme/flaky', device='cpu', retry_delays=(0.1, 0.2))\n"
        "asyncio.run(engine.start())\n"
        "print(engine.state.value)\n"
        "print(engine.failure)\n"
    )
    hub = FlakyHub(down=2)
    with ServerThread(hub.app) as server:
        result = subprocess.run(
            [sys.executable, "-c", script],
            env=os.environ
            | {"HF_ENDPOINT": server.url, "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert result.returncode == 0, result.stderr
    retries = [line for line in result.stderr.splitlines() if "; retrying in" in line]
    assert [line.rsplit("; retrying in ", 1)[1] for line in retries] == ["0.1 s", "0.2 s"]
    assert all("the Hugging Face Hub answered 503" in line for line in retries)
    assert hub.lookups == 3
    assert result.stdout.splitlines() == [
        "failed",
        "MODEL=acme/flaky is neither a local directory nor a model on the Hugging Face Hub "
        "(a private model needs HF_TOKEN)",
    ]
