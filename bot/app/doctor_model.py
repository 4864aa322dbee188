"""The model rows of `supportbot doctor`: the device, and whether `MODEL` is found and fits.

Kept apart from the other checks because it imports torch (seconds), which the
rest of the doctor does not need.
"""

from __future__ import annotations

import asyncio

import torch
from huggingface_hub import model_info
from huggingface_hub.errors import LocalEntryNotFoundError

from bot.app.doctor import Check, Status
from bot.app.engine import build_engine
from bot.engine.device import (
    device_problem,
    dtype_bytes,
    free_memory_bytes,
    resolve_device,
    resolve_dtype,
)
from bot.engine.footprint import fit_problem, footprint
from bot.engine.load_failure import explain, hub_is_offline, source_problem
from bot.engine.protocol import EngineState
from bot.safety.printable_urls import printable_url, without_userinfo
from bot.settings import EngineKind, Settings

_GIB = 2**30
_TIMEOUT_SECONDS = 10.0


def _gib(size: int) -> str:
    return f"{size / _GIB:.1f} GiB"


def check_device(settings: Settings) -> tuple[Check, str | None]:
    """The device row, and the resolved device when it can be used."""
    device = resolve_device(settings.device)
    if problem := device_problem(device):
        return Check("device", Status.FAIL, problem, "set DEVICE=cpu or fix the GPU"), None
    free = _gib(free_memory_bytes(device))
    if device.startswith("cuda"):
        index = int(device.partition(":")[2] or 0)
        name = torch.cuda.get_device_name(index)
        return Check("device", Status.OK, f"{device}: {name}, {free} free"), device
    return (
        Check(
            "device",
            Status.WARN,
            f"cpu ({free} RAM free): float32, so an 8B model needs about 32 GiB "
            "and answers take minutes",
            "a GPU with at least 24 GB, or ENGINE=remote to a GPU server",
        ),
        device,
    )


async def _on_the_hub(model: str, bytes_per_parameter: int) -> tuple[Check | None, int | None]:
    """Whether the Hub has `model`, and the size of its weights once loaded; a row on failure."""
    try:
        info = await asyncio.to_thread(
            model_info, model, files_metadata=True, timeout=_TIMEOUT_SECONDS
        )
    except Exception as error:  # every hub failure is explained in one line
        failure = explain(error, model=model)
        return Check("model", Status.FAIL, failure.reason, "see the README's offline routes"), None
    stored = sum(
        sibling.size or 0
        for sibling in info.siblings or []
        if sibling.rfilename.endswith(".safetensors")
    )
    # Hub checkpoints of this size are stored in 16 bits.
    return None, stored * bytes_per_parameter // 2 if stored else None


async def check_model(settings: Settings) -> list[Check]:
    """The device row and the model row (or the remote server's row with `ENGINE=remote`)."""
    if settings.engine is EngineKind.REMOTE:
        if settings.engine_problems():
            return [Check("model", Status.FAIL, "; ".join(settings.engine_problems()))]
        engine = build_engine(settings)
        await engine.start()
        try:
            if engine.state is EngineState.READY:
                shown = printable_url(settings.engine_url or "")
                return [Check("model", Status.OK, f"remote server {shown} answers")]
            return [
                Check(
                    "model",
                    Status.FAIL,
                    without_userinfo(engine.failure or "remote server not ready"),
                    "start the server, or fix ENGINE_URL / ENGINE_API_KEY",
                )
            ]
        finally:
            await engine.close()
    device_row, device = check_device(settings)
    model = settings.model_id
    if problem := source_problem(model):
        return [device_row, Check("model", Status.FAIL, problem)]
    if device is None:
        return [device_row, Check("model", Status.OFF, "not checked: no usable device")]
    dtype = resolve_dtype(settings.dtype.value, device)
    per_parameter = dtype_bytes(dtype)
    dtype_name = str(dtype).removeprefix("torch.")
    local = footprint(model, bytes_per_parameter=per_parameter)
    if local is not None:
        weights, where = local.weights_bytes, f"found at {local.directory}"
    elif hub_is_offline():
        # What the Hub client itself raises for a file missing from the cache when offline.
        missing = LocalEntryNotFoundError(f"{model} is not in the cache")
        return [device_row, Check("model", Status.FAIL, explain(missing, model=model).reason)]
    else:
        row, size = await _on_the_hub(model, per_parameter)
        if row is not None:
            return [device_row, row]
        if size is None:
            return [device_row, Check("model", Status.WARN, f"{model} is on the Hub; size unknown")]
        weights = size
        where = f"on the Hub, not downloaded yet (first start downloads about {_gib(size)})"
    free = free_memory_bytes(device)
    if problem := fit_problem(model, weights_bytes=weights, device=device, free_bytes=free):
        return [device_row, Check("model", Status.FAIL, problem)]
    found = f"{where}; weights {_gib(weights)} as {dtype_name}, {_gib(free)} free"
    if local is not None:
        return [device_row, Check("model", Status.OK, found)]
    fix = "let the first start download it, or `hf download` it beforehand"
    return [device_row, Check("model", Status.WARN, found, fix)]
