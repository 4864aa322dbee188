"""Session-wide real parts: a tiny Qwen3-VL checkpoint, its loaded engine, a private Redis.

Collecting this needs only pytest, torch and transformers (what a GPU box has:
`bench/gpu_check.sh` runs `tests/gpu` there). Redis, clamd and hypothesis are
imported where they are used, so their absence costs only the tests that use them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.engine.transformers_engine import TransformersEngine
from tests.support.started_engine import started_engine
from tests.support.tiny_checkpoint import build_tiny_checkpoint


def pytest_configure(config: pytest.Config) -> None:
    """In CI the property tests replay the same examples every run, so a landing is never
    decided by a lucky draw; locally they explore new examples each time."""
    try:
        from hypothesis import settings as hypothesis_settings
    except ModuleNotFoundError:  # a GPU box runs only tests/gpu, which has no property tests
        return
    hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
    # A wider random search than any run makes by default, before a safety change lands:
    # `HYPOTHESIS_PROFILE=search` (docs/security.md); what it finds is kept as `@example`.
    # Tests with their own budget take 25 times it (`tests/unit/bot/safety/search.py`).
    hypothesis_settings.register_profile(
        "search", max_examples=2_500, deadline=None, derandomize=False, print_blob=True
    )
    if profile := os.environ.get("HYPOTHESIS_PROFILE"):
        hypothesis_settings.load_profile(profile)
    elif os.environ.get("CI"):
        hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3-VL checkpoint saved with `save_pretrained`, loadable as `MODEL`."""
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-qwen3-vl"))


@pytest.fixture(scope="session")
def tiny_engine(tiny_checkpoint: Path) -> Iterator[TransformersEngine]:
    """The real in-process engine with the tiny checkpoint loaded through `from_pretrained`."""
    with started_engine(tiny_checkpoint) as engine:
        yield engine


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """`REDIS_URL` when set (never flushed: keys are namespaced), else a private redis-server."""
    from tests.support.redis_server import private_redis_server

    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    with private_redis_server() as url:
        yield url


@pytest.fixture
def redis_prefix() -> str:
    """A key namespace no other test (or other user of a shared Redis) writes to."""
    return f"supportbot-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def clamd_address() -> Iterator[str]:
    """A private clamd. Outside CI a machine without clamav-daemon skips these tests."""
    from tests.support.clamd_server import clamd_executable, private_clamd

    if clamd_executable() is None:
        if os.environ.get("CI"):
            pytest.fail("clamd is not installed; .ci/run installs clamav-daemon")
        pytest.skip("clamd is not installed (apt-get install clamav-daemon)")
    with private_clamd() as address:
        yield address
