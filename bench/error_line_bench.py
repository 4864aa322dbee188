"""What the error-line pass adds to a bare screenshot's time to first token.

A bare screenshot is asked through the real `Diagnoser` with a knowledge index
(words only, two runbooks), one question at a time after warm-up, three ways:

- `no pass`: no `ErrorLineReader` (the bot before the pass: the screenshot gets no query);
- `pass, cold`: a new image each time, so the model reads its error line first
  (up to 48 new tokens; the random tiny checkpoint rarely ends early, so this is the
  longest the pass can take);
- `pass, cached`: the same image again (a follow-up, a re-post): the line comes
  from the cache.

Time to first token is from `diagnose()` to the first piece of the answer (or
the finished answer, when the reply filter holds every piece back). Median and
p90 of `--repeat` runs.

    PYTHONPATH=. python bench/error_line_bench.py [--repeat 15] [--size 1280x800]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.conversation.diagnosis import AnswerPiece, Diagnoser, Diagnosis
from bot.conversation.error_lines import ErrorLineReader
from bot.conversation.turns import AttachmentRef, ThreadKey, Turn
from bot.engine.config import EngineConfig
from bot.engine.transformers_engine import TransformersEngine
from bot.knowledge.index import KnowledgeIndex
from bot.knowledge.retrieval import IndexRetriever
from bot.knowledge.sources.base import Visibility
from bot.knowledge.sources.folder import FolderSource
from bot.knowledge.sync import sync_source
from bot.safety.redaction import Redactor
from bot.stores.error_lines import InMemoryErrorLineStore
from tests.support.grounded_diagnoser import grounded_diagnoser
from tests.support.screenshots import render_error_screenshot
from tests.support.tiny_checkpoint import build_tiny_checkpoint

RUNBOOKS = {
    "vault.md": "# Vault\n\n## ACME-4012: vault token expired\n\nRun `acme-vault renew`.\n",
    "tls.md": "# TLS\n\n## ERR_CERT_DATE_INVALID\n\nRenew the certificate with certbot.\n",
}


async def _first_token(diagnoser: Diagnoser, image: Path, thread: str) -> float:
    turn = Turn(
        ThreadKey("bench", "C1", thread), "U1", "", thread, (AttachmentRef(image.name, str(image)),)
    )
    started = time.perf_counter()
    first: float | None = None
    async for event in diagnoser.diagnose(turn):
        if isinstance(event, AnswerPiece | Diagnosis) and first is None:
            first = time.perf_counter() - started
    assert first is not None
    return first * 1000


def _shot(folder: Path, n: int, size: tuple[int, int]) -> Path:
    path = folder / f"shot-{n}.png"
    lines = [f"ACME-4012: vault token expired (request {n})", "at deploy step migrate"]
    path.write_bytes(render_error_screenshot(lines, size=size))
    return path


async def main(repeat: int, size: tuple[int, int], encoder_cache_bytes: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        engine = TransformersEngine(
            str(build_tiny_checkpoint(folder / "tiny")),
            device="cpu",
            max_new_tokens=8,
            encoder_cache_bytes=encoder_cache_bytes,
        )
        await engine.start()
        (folder / "kb").mkdir()
        for name, text in RUNBOOKS.items():
            (folder / "kb" / name).write_text(text)
        index = KnowledgeIndex(folder / "k.db", embedder=None)
        source = FolderSource(name="runbooks", root=folder / "kb", visibility=Visibility.everyone())
        await sync_source(source, index, redactor=Redactor())
        reader = ErrorLineReader(engine, redactor=Redactor(), store=InMemoryErrorLineStore())

        def diagnoser(with_reader: bool) -> Diagnoser:
            return grounded_diagnoser(
                engine,
                IndexRetriever(index),
                error_lines=reader if with_reader else None,
                max_new_tokens=8,
                max_file_bytes=10**7,
            )

        plain, reading = diagnoser(False), diagnoser(True)
        cached = _shot(folder, 0, size)
        for n in range(2):  # warm-up: model, processor, the cached image's line
            await _first_token(plain, cached, f"w{n}")
            await _first_token(reading, cached, f"w{n}")
        times: dict[str, list[float]] = {"no pass": [], "pass, cold": [], "pass, cached": []}
        for n in range(1, repeat + 1):
            times["no pass"].append(await _first_token(plain, _shot(folder, n, size), f"a{n}"))
            fresh = _shot(folder, 10_000 + n, size)
            times["pass, cold"].append(await _first_token(reading, fresh, f"b{n}"))
            times["pass, cached"].append(await _first_token(reading, cached, f"c{n}"))
        await engine.close()
        index.close()

    print(f"bare screenshot {size[0]}x{size[1]}, tiny checkpoint on the CPU, {repeat} runs each")
    print("| path | median ms | p90 ms |")
    print("| --- | ---: | ---: |")
    for name, values in times.items():
        values.sort()
        p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
        print(f"| {name} | {statistics.median(values):.0f} | {p90:.0f} |")
    added = statistics.median(times["pass, cold"]) - statistics.median(times["no pass"])
    print(f"\nthe pass adds {added:.0f} ms (median) to a bare screenshot's first token")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--size", default="1280x800", help="screenshot size, WIDTHxHEIGHT")
    parser.add_argument(
        "--encoder-cache-bytes",
        type=int,
        default=EngineConfig.encoder_cache_bytes,
        help="0: the answer encodes the screenshot again after the pass",
    )
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    asyncio.run(main(args.repeat, (width, height), args.encoder_cache_bytes))
