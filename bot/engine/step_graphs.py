"""Decode steps captured once per shape and replayed, as vLLM and SGLang do.

A step's shapes are fixed by its `StepShape` (rows in the bucket, attended
columns), and it reads its inputs from buffers at fixed addresses, so one
capture per shape replays correctly for any tokens staged later. The engine
captures every shape it can see (each batch bucket at each attended width of
its reserved pool) before it reports ready, largest first, and never
captures while serving: a shape missing then runs eagerly. A cache that is
not reserved may grow, which moves its buffers: every capture is then stale
and is made again the first time its shape is needed (`SlotCache.generation`
says when).

`StepGraphs` only keeps and picks captures; how a step is captured is given
to it, so which shape is captured when can be checked without a GPU.
`cuda_graph_capture` is the real one: `torch.cuda.CUDAGraph`, taking seconds
for every bucket where compiling the step took minutes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import torch

from bot.engine.device import gpu_memory_bytes
from bot.engine.slot_cache import StepShape

log = logging.getLogger(__name__)

Replay = Callable[[], torch.Tensor]  # runs the captured step, returns its logits
Capture = Callable[[StepShape], Replay]

WARM_UP_RUNS = 2  # eager runs before capturing: cuBLAS handles, lazy initialisation


class StepGraphs:
    """Captured decode steps by shape, for one generation of the cache's buffers."""

    def __init__(self, capture: Capture) -> None:
        self._capture = capture
        self._replays: dict[StepShape, Replay] = {}
        self._generation: int | None = None
        self._complete = False  # every shape was captured up front: capture nothing later
        self.captures = 0  # captures made, start-up and later

    @property
    def shapes(self) -> list[StepShape]:
        """Shapes captured for the current buffers."""
        return sorted(self._replays)

    def replay(self, shape: StepShape, generation: int) -> torch.Tensor | None:
        """Run the step of `shape`, capturing it first if this shape or these buffers are new.

        After `capture_all` nothing is captured any more: a shape it did not
        capture returns None, and the caller runs that step eagerly.
        """
        self._forget_if_moved(generation)
        replay = self._replays.get(shape)
        if replay is None and self._complete:
            return None
        if replay is None:
            started = time.monotonic()
            replay = self._replays[shape] = self._capture(shape)
            self.captures += 1
            log.info(
                "captured a decode graph for %d rows x %d columns in %.2f s",
                shape.bucket,
                shape.attended,
                time.monotonic() - started,
            )
        return replay()

    def capture_all(self, shapes: Iterable[StepShape], generation: int) -> None:
        """Capture `shapes` now (start-up), largest first so smaller ones reuse its memory.

        From then on `replay` captures nothing: serving never waits on a capture.
        """
        self._forget_if_moved(generation)
        ordered = sorted(shapes, reverse=True)
        started = time.monotonic()
        for done, shape in enumerate(ordered, start=1):
            if shape not in self._replays:
                self._replays[shape] = self._capture(shape)
                self.captures += 1
            log.info(
                "capturing decode graphs %d/%d (%d rows x %d columns), %.2f GiB allocated",
                done,
                len(ordered),
                shape.bucket,
                shape.attended,
                gpu_memory_bytes() / 2**30,
            )
        self._complete = True
        log.info("decode graphs captured in %.1f s", time.monotonic() - started)

    def _forget_if_moved(self, generation: int) -> None:
        if generation != self._generation:
            self._replays.clear()  # they point at buffers that are gone
            self._complete = False
            self._generation = generation


def cuda_graph_capture(step: Callable[[StepShape], torch.Tensor]) -> Capture:
    """Capture `step` (an eager, capture-safe decode step) as a `torch.cuda.CUDAGraph`.

    Every graph shares one memory pool; the logits a replay returns live in it
    and are overwritten by the next replay, so they are read before that.
    """
    pool = torch.cuda.graph_pool_handle()

    def capture(shape: StepShape) -> Replay:
        side = torch.cuda.Stream()  # type: ignore[no-untyped-call]
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up must not run on the capturing stream
            for _ in range(WARM_UP_RUNS):
                step(shape)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=pool):
            logits = step(shape)

        def replay() -> torch.Tensor:
            graph.replay()
            return logits

        return replay

    return capture
