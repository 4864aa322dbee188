"""Host time per decode step with the model stubbed out: what the engine adds around a step.

A stub stands in for the model (one layer writing its column into the real
key/value pool, an output head of zeros), so what is timed is the engine's
own work per step: staging the step's inputs, the mask, choosing tokens with
`min_new_tokens` held, reading the ids back, and handing them to the event
loop, whose consumers drain their queues on another thread as the server's do.
Also the detokenizer's cost per token, early and late in a long line.

    PYTHONPATH=. python bench/host_overhead.py --steps 300

Targets (issue 27): <= 0.3 ms per step at batch 1, <= 1 ms at batch 32.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import percentile
from bot.engine.config import EngineConfig
from bot.engine.decode_mode import DecodeMode
from bot.engine.mailbox import Mailbox
from bot.engine.prefix_cache import PrefixStore
from bot.engine.prepared import PreparedPrompt
from bot.engine.request import ChatMessage, GenerationRequest, Role, TextPart
from bot.engine.runner import ModelRunner
from bot.engine.sampling import TokenChooser
from bot.engine.sequence import Sequence
from bot.engine.streaming import TextPieces

VOCAB = 1024
HEADS, DIM, LAYERS = 1, 8, 1


class _StubText(torch.nn.Module):
    """The text decoder's interface, doing only the cache write a real layer does."""

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        use_cache: bool,
        past_key_values: Any,
    ) -> Any:
        rows = input_ids.shape[0]
        column = torch.zeros((rows, HEADS, 1, DIM))
        for layer in range(LAYERS):
            past_key_values.update(column, column, layer)
        return SimpleNamespace(last_hidden_state=torch.zeros((rows, 1, 1)))


class _StubModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.language_model = _StubText()
        self.head = torch.nn.Linear(1, VOCAB, bias=False)
        torch.nn.init.zeros_(self.head.weight)
        text = SimpleNamespace(
            num_key_value_heads=HEADS,
            head_dim=DIM,
            num_hidden_layers=LAYERS,
            hidden_size=DIM,
            num_attention_heads=HEADS,
            max_position_embeddings=4096,
        )
        self.config = SimpleNamespace(get_text_config=lambda: text, image_token_id=VOCAB - 2)
        self.visual = None  # no images in this bench
        self.embed = torch.nn.Embedding(VOCAB, 1)
        self.generation_config = SimpleNamespace(
            eos_token_id=[VOCAB - 1], do_sample=False, temperature=1.0, top_k=0, top_p=1.0
        )

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    @property
    def model(self) -> Any:
        return self  # the inner model's parts live on the stub itself

    def get_decoder(self) -> Any:
        return self

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.embed

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.head


def _sequence(send: Any, prompt: int) -> Sequence:
    prepared: Future[PreparedPrompt] = Future()
    prepared.set_result(
        PreparedPrompt(
            token_ids=tuple(range(1, prompt + 1)),
            positions=torch.arange(prompt).expand(4, -1),
            rope_delta=0,
            mm_token_type_ids=torch.zeros(prompt, dtype=torch.long),
            image_patches=(),
            image_grid_thw=None,
            image_digests=(),
        )
    )
    request = GenerationRequest(messages=(ChatMessage(Role.USER, (TextPart("x"),)),))
    # min_new_tokens held for the whole run: the end-token rule runs every step
    sequence = Sequence(request, prepared, send, max_new_tokens=10**6, min_new_tokens=10**6)
    sequence.start()
    return sequence


def step_times(batch: int, steps: int) -> list[float]:
    """Seconds of each of `steps` decode steps at `batch` rows, model stubbed."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    inboxes: list[asyncio.Queue[object]] = []
    drains: list[asyncio.Task[None]] = []

    async def drain(inbox: asyncio.Queue[object]) -> None:
        while True:
            await inbox.get()

    async def make() -> None:
        for _ in range(batch):
            inbox: asyncio.Queue[object] = asyncio.Queue()
            inboxes.append(inbox)
            drains.append(asyncio.create_task(drain(inbox)))

    asyncio.run_coroutine_threadsafe(make(), loop).result()
    model = _StubModel()
    runner = ModelRunner(
        model,
        TokenChooser(model.generation_config),
        config=EngineConfig("stub", device="cpu", max_batch=batch, decode_mode=DecodeMode.EAGER),
        prefixes=PrefixStore(0),
        context_window=4096,
        pad_token_id=0,
        observe=lambda name, value: None,
    )
    times: list[float] = []
    with torch.inference_mode():
        runner.warm_up(batch)
        pool = runner.kv_pool
        active = [_sequence(Mailbox(loop, inbox, threading.Event()), 64) for inbox in inboxes]
        zeros = torch.zeros((batch, HEADS, 64, DIM))
        slots = pool.add([(zeros, zeros)] * LAYERS, [64] * batch)
        for sequence, slot in zip(active, slots, strict=True):
            sequence.slot, sequence.cached = slot, 64
        for _ in range(steps):
            started = time.perf_counter()
            runner.advance(active, runner.step(active), by_slot=True)
            times.append(time.perf_counter() - started)

    async def stop() -> None:
        for task in drains:
            task.cancel()
        await asyncio.gather(*drains, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(stop(), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    return times


def detokenizer_costs(tokens_at: list[int]) -> dict[int, float]:
    """Seconds one `TextPieces.push` takes at each of `tokens_at` tokens into one line."""
    from transformers import AutoTokenizer

    from tests.support.tiny_checkpoint import build_tiny_checkpoint

    with tempfile.TemporaryDirectory() as workdir:
        tokenizer = AutoTokenizer.from_pretrained(build_tiny_checkpoint(Path(workdir) / "tiny"))
    ids = tokenizer("error " * max(tokens_at) * 2)["input_ids"]
    pieces = TextPieces(tokenizer)
    costs: dict[int, float] = {}
    for index, token in enumerate(ids[: max(tokens_at) + 1]):
        started = time.perf_counter()
        pieces.push(token)
        if index in tokens_at:
            costs[index] = time.perf_counter() - started
    return costs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, model stubbed")
    print("| batch | host ms/step median | p95 |")
    print("| --- | --- | --- |")
    for batch in (1, 8, 32):
        times = step_times(batch, args.steps)[20:]  # the first steps warm allocators up
        median = sorted(times)[len(times) // 2]
        print(f"| {batch} | {median * 1000:.3f} | {percentile(times, 0.95) * 1000:.3f} |")
    costs = detokenizer_costs([10, 400])
    print("| detokenizer µs/token at token 10 | at token 400 |")
    print(f"| {costs[10] * 1e6:.0f} | {costs[400] * 1e6:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
