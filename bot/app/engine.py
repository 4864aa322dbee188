"""Choose and build the engine named by `ENGINE`, and put its gauges on the metrics."""

from __future__ import annotations

from collections.abc import Callable

from bot.engine.config import EngineConfig
from bot.engine.device import gpu_memory_bytes
from bot.engine.protocol import Engine
from bot.engine.remote import RemoteEngine
from bot.engine.transformers_engine import RETRY_DELAYS, TransformersEngine
from bot.observability import catalogue
from bot.observability.catalogue import MetricSpec
from bot.observability.metrics import Metrics
from bot.settings import EngineKind, Settings


def engine_config(settings: Settings) -> EngineConfig:
    """The in-process engine's configuration, read once from `settings`."""
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
        kv_cache_bytes=settings.kv_cache_bytes,
        kv_cache_memory_share=settings.kv_cache_memory_share,
        lora_adapter=settings.lora_adapter,
        decode_mode=settings.decode_mode,
    )


def _local_engine(settings: Settings, metrics: Metrics | None, retry: bool) -> Engine:
    return TransformersEngine(
        engine_config(settings),
        observe=metrics.observe_by_name if metrics is not None else None,
        retry_delays=RETRY_DELAYS if retry else (),
    )


def _remote_engine(settings: Settings, metrics: Metrics | None, retry: bool) -> Engine:
    assert settings.engine_url is not None  # require_engine() said so
    key = settings.engine_api_key
    return RemoteEngine(
        settings.engine_url,
        settings.engine_model or settings.model_id,
        api_key=key.get_secret_value() if key else None,
        max_new_tokens=settings.max_new_tokens,
        context_window=settings.max_context_tokens,
        max_in_flight=settings.max_waiting,
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
    tried again with backoff (a server); without, the first failure is final (a command).
    """
    settings.require_engine()
    return _ENGINES[settings.engine](settings, metrics, retry_downloads)


def watch_engine(metrics: Metrics, engine: Engine) -> None:
    """Gauges read from `engine` at scrape time: queue depth, caches, GPU memory."""
    gauges: dict[MetricSpec, Callable[[], float]] = {
        catalogue.ENGINE_QUEUE_DEPTH: lambda: engine.queue_depth,
        catalogue.ENGINE_PREFIX_CACHE_BYTES: lambda: engine.cache_bytes().prefixes,
        catalogue.ENGINE_DECODE_CACHE_BYTES: lambda: engine.cache_bytes().decode,
        catalogue.GPU_MEMORY_BYTES: gpu_memory_bytes,
    }
    for spec, read in gauges.items():
        metrics.gauge(spec, read)
