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
from bot.app.model_fit import check_fit, choose_model, weights_from_hub_files
from bot.engine.device import (
    device_problem,
    dtype_bytes,
    free_memory_bytes,
    resolve_device,
    resolve_dtype,
)
from bot.engine.footprint import fit_problem, footprint
from bot.engine.load_failure import explain, hub_is_offline, source_problem
from bot.engine.model_choice import AUTO
from bot.errors import BotError, ModelUnavailable
from bot.settings import Settings

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
            f"cpu ({free} RAM free): float32, 4 bytes a parameter (the 2B model's "
            "weights 7.9 GiB, the 8B's 32.7 GiB); far slower answers than on a GPU",
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
    return None, weights_from_hub_files(info, bytes_per_parameter)


async def check_model(settings: Settings) -> list[Check]:
    """The device row, with `MODEL=auto` the choice row, and the model row (local engine)."""
    if settings.model_id != AUTO:
        return await _check_named_model(settings)
    try:
        settled, choice = choose_model(settings)
    except BotError as error:
        device_row, _ = check_device(settings)
        fix = "set MODEL to a smaller model, free memory, or ENGINE=remote"
        return [device_row, Check("model", Status.FAIL, str(error), fix)]
    device_row, *model_rows = await _check_named_model(settled)
    reason = choice.reason if choice else settled.model_id
    return [device_row, Check("choice", Status.OK, reason), *model_rows]


async def _check_named_model(settings: Settings) -> list[Check]:
    device_row, device = check_device(settings)
    model = settings.model_id
    if problem := source_problem(model):
        return [device_row, Check("model", Status.FAIL, problem)]
    if device is None:
        return [device_row, Check("model", Status.OFF, "not checked: no usable device")]
    try:
        check_fit(settings)  # the same refusal as start-up, with room for a batch
    except ModelUnavailable as error:
        return [device_row, Check("model", Status.FAIL, str(error))]
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
