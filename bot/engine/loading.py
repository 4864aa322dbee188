"""Loading the model: preflight checks, the processor and weights, a merged adapter.

Everything here blocks and runs on the engine's loader thread; `load_retrying`
is the async wrapper that tries a download again when its failure can heal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import torch
from huggingface_hub import model_info
from transformers import AutoModelForImageTextToText, AutoProcessor
from transformers.utils import logging as transformers_logging

from bot.engine.config import EngineConfig
from bot.engine.device import device_problem, dtype_bytes, free_memory_bytes
from bot.engine.footprint import fit_problem, footprint
from bot.engine.load_failure import LoadRefused, explain, hub_is_offline, source_problem

log = logging.getLogger(__name__)

# A download that failed for a reason that can heal is tried again after these waits (seconds),
# the last one repeated; huggingface_hub has already retried each file a few times by then.
RETRY_DELAYS = (10.0, 20.0, 40.0, 80.0, 160.0, 300.0)
HUB_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Loaded:
    """A model in memory, ready for `eval()` use, and its processor."""

    model: Any
    processor: Any


def library_logs_through_root() -> None:
    """Let the model libraries' log lines reach the process's handler, once each.

    huggingface_hub gives its logger a handler of its own and still propagates, so
    every download retry was printed twice; transformers gives its logger a handler
    and stops propagation, so its warnings skipped the process's format and redaction.
    """
    hub = logging.getLogger("huggingface_hub")
    for handler in list(hub.handlers):
        hub.removeHandler(handler)
    hub.propagate = True
    transformers_logging.disable_default_handler()
    transformers_logging.enable_propagation()


def preflight(config: EngineConfig, *, device: str, dtype: torch.dtype) -> None:
    """Raise what makes loading hopeless now, before any download.

    A path that is not a checkpoint, a CUDA device that is not there (or asked
    for by DECODE_MODE=cuda-graphs), weights on disk that cannot fit in the
    device's free memory; and for a model not yet downloaded, one quick look-up
    on the Hub, so that an unreachable Hub is said in seconds rather than after
    huggingface_hub's retries of every file.
    """
    for problem in (source_problem(config.model), device_problem(device)):
        if problem:
            raise LoadRefused(problem)
    try:
        config.decode_mode.on(torch.device(device).type)
    except ValueError as error:
        raise LoadRefused(f"{error}; use DECODE_MODE=auto or eager on {device}") from None
    need = footprint(config.model, bytes_per_parameter=dtype_bytes(dtype))
    if need is None:
        if not hub_is_offline():
            model_info(config.model, timeout=HUB_TIMEOUT_SECONDS)
        return
    problem = fit_problem(
        config.model,
        weights_bytes=need.weights_bytes,
        device=device,
        free_bytes=free_memory_bytes(device),
    )
    if problem:
        raise LoadRefused(problem)


def load_model(config: EngineConfig, *, device: str, dtype: torch.dtype) -> Loaded:
    """Processor and model of `config.model` on `device` (blocking), adapter merged."""
    log.info("loading model %s on %s as %s", config.model, device, dtype)
    preflight(config, device=device, dtype=dtype)
    processor = AutoProcessor.from_pretrained(config.model)
    model = AutoModelForImageTextToText.from_pretrained(
        config.model, dtype=dtype, device_map=device, attn_implementation="sdpa"
    )
    if config.lora_adapter:
        from peft import PeftModel  # only needed with an adapter

        log.info("merging LoRA adapter %s", config.lora_adapter)
        model = PeftModel.from_pretrained(model, config.lora_adapter).merge_and_unload()
    model.eval()
    return Loaded(model, processor)


async def load_retrying(
    load: Callable[[], None],
    *,
    executor: Executor,
    model: str,
    retry_delays: tuple[float, ...],
    progress: Callable[[str], None],
    closed: Callable[[], bool],
    sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep,
) -> str | None:
    """Run `load` on `executor` until it succeeds; the reason it failed for good, or None.

    A failure that can heal (the Hub unreachable, a 5xx) is tried again after
    each of `retry_delays` (the last one repeated); `progress` hears each wait.
    Every failure is explained; none is raised.
    """
    loop = asyncio.get_running_loop()
    attempt = 0
    while True:
        try:
            await loop.run_in_executor(executor, load)
            return None
        except Exception as error:
            failure = explain(error, model=model)
        if not failure.retryable or not retry_delays:
            return failure.reason
        delay = retry_delays[min(attempt, len(retry_delays) - 1)]
        attempt += 1
        progress(f"{failure.reason}; retrying in {delay:g} s")
        await sleep(delay)
        if closed():
            return None
