"""One engine configuration, built once from `Settings` and passed down."""

from __future__ import annotations

import dataclasses

import pytest

from bot.app.engine import engine_config
from bot.engine.config import EngineConfig
from bot.engine.decode_mode import DecodeMode
from bot.settings import Settings


def test_the_composition_root_reads_every_engine_setting_once() -> None:
    settings = Settings(
        _env_file=None,
        max_batch=8,
        batch_window_ms=20,
        prefill_chunk_tokens=256,
        decode_mode="eager",
        device="cpu",
    )
    config = engine_config(settings)
    assert config.model == settings.model_id
    assert config.device == "cpu" and config.decode_mode is DecodeMode.EAGER
    assert config.limits.max_batch == 8 and config.limits.prefill_chunk == 256
    assert config.limits.gather_seconds == pytest.approx(0.02)


def test_the_config_is_frozen_and_checks_its_memory_share() -> None:
    config = EngineConfig("some/model", decode_mode="compile")  # type: ignore[arg-type]
    assert config.decode_mode is DecodeMode.COMPILE
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_batch = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match="kv_cache_memory_share"):
        EngineConfig("some/model", kv_cache_memory_share=1.5)
    with pytest.raises(ValueError, match="kv_cache_bytes"):
        EngineConfig("some/model", kv_cache_bytes=-1)
