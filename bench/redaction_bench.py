"""Redaction and the reply filter over pathological input: the figures in docs/security.md.

    PYTHONPATH=. python bench/redaction_bench.py

Each row is one run on one core (CPU seconds): `Redactor.redact` over runs of
`a-a-a-…` and other short units repeated, and the reply filter over an answer
without spaces, streamed four characters at a time as a model's tokens arrive.
`--quick` skips the 20,000- and 40,000-character rows (a backtracking build takes
minutes over them).
"""

from __future__ import annotations

import argparse
import time

from bot.safety.filters import RedactingFilter
from bot.safety.links import LinkGuard
from bot.safety.redaction import Redactor

UNITS = ("a-", "a.", "1-", "a@", "eyJ-", "password:", "电话1", " ")


def _repeated(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _redactor() -> Redactor:
    """A redactor whose deadline never trips (builds before the deadline have none)."""
    try:
        return Redactor(deadline_s=1e9)
    except TypeError:
        return Redactor()


def _redact(text: str) -> float:
    redactor = _redactor()
    started = time.process_time()
    redactor.redact(text)
    return time.process_time() - started


def _stream(text: str, piece: int = 4) -> float:
    stream = RedactingFilter(_redactor(), links=LinkGuard()).open()
    started = time.process_time()
    for start in range(0, len(text), piece):
        stream.feed(text[start : start + piece])
    stream.finish()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the 12,000-character rows")
    args = parser.parse_args()
    sizes = (12_000,) if args.quick else (12_000, 20_000, 40_000)
    print(f"{'what':<52} {'CPU s':>8}")
    for size in sizes:
        print(f"{f'redact {size:,} chars of a-a-a-':<52} {_redact(_repeated('a-', size)):>8.3f}")
    label = "reply filter, 4,000-char answer without spaces"
    print(f"{label:<52} {_stream(_repeated('a-', 4000)):>8.3f}")
    if not args.quick:
        for unit in UNITS:
            label = f"redact 40,000 chars of {unit!r} repeated"
            print(f"{label:<52} {_redact(_repeated(unit, 40_000)):>8.3f}")


if __name__ == "__main__":
    main()
