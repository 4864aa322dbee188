"""Choose and build the engine named by `ENGINE`, and put its gauges on the metrics.

Each engine is imported only when it is chosen: the in-process one brings torch and
transformers (seconds, and the `local` extra), the remote one only the `openai` client,
so an `ENGINE=remote` replica runs without either installed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.util import find_spec
from typing import TYPE_CHECKING

from bot.engine.model_choice import AUTO, QWEN3_VL_INSTRUCT
from bot.engine.protocol import Engine
from bot.errors import ConfigError
from bot.observability import catalogue
from bot.observability.catalogue import MetricSpec
from bot.observability.metrics import Metrics
from bot.settings import EngineKind, Settings

if TYPE_CHECKING:  # its policy imports torch, which a slim replica does not have
    from bot.engine.config import EngineConfig

# What the in-process engine imports; the `local` extra in pyproject.toml installs them.
LOCAL_ENGINE_PACKAGES = ("torch", "torchvision", "transformers", "accelerate")
LOCAL_EXTRA_INSTALL = 'pip install "supportbot[local]"'


def local_engine_missing() -> list[str]:
    """The local engine's packages that are not installed here (found without importing)."""
    return [name for name in LOCAL_ENGINE_PACKAGES if find_spec(name) is None]


def settle_model(settings: Settings) -> Settings:
    """`settings` with `MODEL=auto` resolved to the model that fits here (said in the log);
    unchanged for the remote engine or an explicit `MODEL`.

    Raises:
        ConfigError: `ENGINE=local` without the local engine's packages installed.
        ModelUnavailable: not even the smallest model fits.
    """
    if settings.engine is not EngineKind.LOCAL:
        return settings
    if missing := local_engine_missing():
        raise ConfigError(
            f"ENGINE=local needs {', '.join(missing)}, not installed here: "
            f"{LOCAL_EXTRA_INSTALL} (or set ENGINE=remote and ENGINE_URL)"
        )
    from bot.app.model_fit import choose_model

    return choose_model(settings)[0]


def remote_model_name(settings: Settings) -> str:
    """The model's name on the remote server: `ENGINE_MODEL`, else `MODEL` (auto: the 8B)."""
    if settings.engine_model:
        return settings.engine_model
    if settings.model_id == AUTO:
        return QWEN3_VL_INSTRUCT[0].model_id
    return settings.model_id


def engine_config(settings: Settings) -> EngineConfig:
    """The in-process engine's configuration, read once from `settings`."""
    from bot.engine.config import EngineConfig

    return EngineConfig(
        settings.model_id,
        device=settings.device,
        dtype=settings.dtype.value,
        max_new_tokens=settings.max_new_tokens,
        max_image_pixels=settings.max_image_pixels,
        max_context_tokens=settings.max_context_tokens,
        max_waiting=settings.max_waiting,
        max_batch=settings.max_batch,
        batch_token_budget=settings.batch_token_budget,
        batch_window_seconds=settings.batch_window_ms / 1000,
        prefill_chunk_tokens=settings.prefill_chunk_tokens,
        prefix_cache_bytes=settings.prefix_cache_bytes,
        encoder_cache_bytes=settings.encoder_cache_bytes,
        encoder_workers=settings.encoder_workers,
        kv_cache_bytes=settings.kv_cache_bytes,
        kv_cache_memory_share=settings.kv_cache_memory_share,
        lora_adapter=settings.lora_adapter,
        decode_mode=settings.decode_mode,
    )


def _local_engine(settings: Settings, metrics: Metrics | None, retry: bool) -> Engine:
    settings = settle_model(settings)
    from bot.app.model_fit import check_fit
    from bot.engine.transformers_engine import RETRY_DELAYS, TransformersEngine

    check_fit(settings)  # before any download

    return TransformersEngine(
        engine_config(settings),
        observe=metrics.observe_by_name if metrics is not None else None,
        retry_delays=RETRY_DELAYS if retry else (),
    )


def _remote_engine(settings: Settings, metrics: Metrics | None, retry: bool) -> Engine:
    from bot.engine.remote import READINESS_DELAYS, RemoteEngine

    assert settings.engine_url is not None  # require_engine() said so
    key = settings.engine_api_key
    return RemoteEngine(
        settings.engine_url,
        remote_model_name(settings),
        api_key=key.get_secret_value() if key else None,
        max_new_tokens=settings.max_new_tokens,
        context_window=settings.max_context_tokens,
        max_in_flight=settings.max_waiting,
        readiness_delays=READINESS_DELAYS if retry else (),
        max_image_pixels=settings.max_image_pixels,
    )


_ENGINES: dict[EngineKind, Callable[[Settings, Metrics | None, bool], Engine]] = {
    EngineKind.LOCAL: _local_engine,
    EngineKind.REMOTE: _remote_engine,
}


def build_engine(
    settings: Settings, metrics: Metrics | None = None, *, retry_downloads: bool = True
) -> Engine:
    """The in-process engine for `MODEL`, or the remote one with `ENGINE=remote`.

    With `retry_downloads` a model download that fails for a reason that can heal is
    tried again with backoff, and a remote server that does not answer yet is asked
    again until it does (a server); without, the first failure is final (a command).

    Raises:
        ConfigError: a setting the engine needs is missing, or `ENGINE=local` without
            the local engine's packages installed.
    """
    settings.require_engine()
    return _ENGINES[settings.engine](settings, metrics, retry_downloads)


def watch_engine(metrics: Metrics, engine: Engine) -> None:
    """Gauges read from `engine` at scrape time: queue depth, caches, GPU memory."""
    gauges: dict[MetricSpec, Callable[[], float]] = {
        catalogue.ENGINE_QUEUE_DEPTH: lambda: engine.queue_depth,
        catalogue.ENGINE_PREFIX_CACHE_BYTES: lambda: engine.cache_bytes().prefixes,
        catalogue.ENGINE_DECODE_CACHE_BYTES: lambda: engine.cache_bytes().decode,
        catalogue.GPU_MEMORY_BYTES: _gpu_memory_bytes,
    }
    for spec, read in gauges.items():
        metrics.gauge(spec, read)


def _gpu_memory_bytes() -> float:
    # Memory PyTorch allocated in this process: none when torch was never imported (the
    # remote engine), and importing it only to read 0 would cost seconds and ~600 MiB.
    if "torch" not in sys.modules:
        return 0.0
    from bot.engine.device import gpu_memory_bytes

    return gpu_memory_bytes()
