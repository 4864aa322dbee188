"""`MODEL=auto` resolved for this machine, and every model's memory checked before download.

The composition root's step before the in-process engine is built: it describes
the hardware (device and free memory, with torch), lets `bot.engine.model_choice`
pick or check, and logs why. Only the local engine comes here.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.engine.model_choice import (
    AUTO,
    Choice,
    Hardware,
    Need,
    choose,
    fit_refusal,
    need,
    none_fits,
    published,
    published_need,
)
from bot.errors import ConfigError, ModelUnavailable
from bot.settings import Settings

log = logging.getLogger(__name__)

_HUB_TIMEOUT_SECONDS = 10.0


def describe_hardware(settings: Settings) -> tuple[Hardware, int] | None:
    """The device `DEVICE` resolves to, its free memory, and the bytes a parameter takes
    there; None when the device cannot be used (the engine says why when it loads)."""
    import torch

    from bot.engine.device import (
        device_problem,
        dtype_bytes,
        free_memory_bytes,
        resolve_device,
        resolve_dtype,
    )

    device = resolve_device(settings.device)
    if device_problem(device):
        return None
    name = ""
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(int(device.partition(":")[2] or 0))
    per_parameter = dtype_bytes(resolve_dtype(settings.dtype.value, device))
    return Hardware(device, free_memory_bytes(device), name), per_parameter


def choose_model(settings: Settings) -> tuple[Settings, Choice | None]:
    """`settings` with `MODEL=auto` replaced by the model that fits, and the choice made.

    An explicit `MODEL` is kept as it is (and no choice is returned).

    Raises:
        ModelUnavailable: not even the smallest model fits.
        ConfigError: `MODEL=auto` with `LORA_ADAPTER` (the adapter has one base model).
    """
    if settings.model_id != AUTO:
        return settings, None
    if settings.lora_adapter:
        raise ConfigError(
            "LORA_ADAPTER needs an explicit MODEL: the adapter's base model, not MODEL=auto"
        )
    described = describe_hardware(settings)
    if described is None:
        from bot.engine.device import device_problem, resolve_device

        raise ModelUnavailable(device_problem(resolve_device(settings.device)) or settings.device)
    hardware, per_parameter = described
    choice = choose(hardware, bytes_per_parameter=per_parameter)
    if choice is None:
        raise ModelUnavailable(none_fits(hardware, bytes_per_parameter=per_parameter))
    log.info("%s", choice.reason)
    return settings.model_copy(update={"model_id": choice.model_id}), choice


def model_need(model: str, *, bytes_per_parameter: int) -> tuple[Need, str] | None:
    """What `model` needs and where its size came from: the published table, the files
    already on disk, or the Hub's file sizes; None when none of them tells."""
    if entry := published(model):
        return published_need(entry, bytes_per_parameter), "its published size"
    from bot.engine.footprint import footprint

    if local := footprint(model, bytes_per_parameter=bytes_per_parameter):
        weights = local.weights_bytes
        found = f"its files at {local.directory}"
    elif (weights_on_hub := _hub_weights_bytes(model, bytes_per_parameter)) is not None:
        weights, found = weights_on_hub, "its file sizes on the Hub"
    else:
        return None
    return need(model, weights_bytes=weights, bytes_per_parameter=bytes_per_parameter), found


def _hub_weights_bytes(model: str, bytes_per_parameter: int) -> int | None:
    from huggingface_hub import model_info

    from bot.engine.load_failure import hub_is_offline, looks_like_a_path

    if looks_like_a_path(model) or hub_is_offline():
        return None
    try:
        info = model_info(model, files_metadata=True, timeout=_HUB_TIMEOUT_SECONDS)
    except Exception:  # the engine's own load explains any Hub failure in one line
        return None
    return weights_from_hub_files(info, bytes_per_parameter)


def weights_from_hub_files(info: Any, bytes_per_parameter: int) -> int | None:
    """The weights' size in memory from a Hub `model_info(files_metadata=True)` answer."""
    stored = sum(
        sibling.size or 0
        for sibling in info.siblings or []
        if sibling.rfilename.endswith(".safetensors")
    )
    # Hub checkpoints of this family are stored in 16 bits.
    return stored * bytes_per_parameter // 2 if stored else None


def check_fit(settings: Settings) -> None:
    """Refuse, before any download, a model that cannot fit in the device's free memory.

    Raises:
        ModelUnavailable: one line naming the model, the numbers and a model that fits.
    """
    described = describe_hardware(settings)
    if described is None:
        return  # the engine refuses the device itself, in its own words
    hardware, per_parameter = described
    found = model_need(settings.model_id, bytes_per_parameter=per_parameter)
    if found is None:
        return  # nothing tells its size; the engine's own checks still run
    refusal = fit_refusal(found[0], hardware, bytes_per_parameter=per_parameter)
    if refusal:
        raise ModelUnavailable(refusal)
