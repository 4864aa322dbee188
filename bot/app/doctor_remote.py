"""The model row of `supportbot doctor` with `ENGINE=remote`: does the server answer?

Apart from `doctor_model` so that a slim replica (no torch, no transformers) can run
the doctor: nothing here imports the local engine.
"""

from __future__ import annotations

from bot.app.doctor import Check, Status
from bot.app.engine import build_engine
from bot.engine.protocol import EngineState
from bot.settings import Settings


async def check_remote(settings: Settings) -> list[Check]:
    """The remote server's row: it lists its models, or why not."""
    if settings.engine_problems():
        return [Check("model", Status.FAIL, "; ".join(settings.engine_problems()))]
    engine = build_engine(settings, retry_downloads=False)
    await engine.start()
    try:
        if engine.state is EngineState.READY:
            return [Check("model", Status.OK, f"remote server {engine_address(settings)} answers")]
        return [
            Check(
                "model",
                Status.FAIL,
                engine.failure or "remote server not ready",
                "start the server, or fix ENGINE_URL / ENGINE_API_KEY",
            )
        ]
    finally:
        await engine.close()


def engine_address(settings: Settings) -> str:
    """`ENGINE_URL` without any `user:password@`."""
    from bot.printable_urls import printable_url

    return printable_url(settings.engine_url or "")
