"""Regenerate the shipped sample knowledge base the eval retrieves from.

    python -m bot.evaluation.knowledge_generate          # write knowledge_set/docs and cases.toml
    python -m bot.evaluation.knowledge_generate --check  # exit 1 when a committed file differs

The set describes a fictional company, ACME: runbooks for its internal error codes
(`ACME-4012: vault token expired`) and help-center articles, a third of them in Chinese.
The codes, commands and values are invented, so no model can answer from what it
already knows; the right document has to be retrieved. Systems share failure modes
(a token expires in Vault and in SSO, with different fixes) and codes differ by one
digit across systems, so near-miss documents sit beside every target.

Everything is drawn from one seeded generator: the output is the same on every run.
Run it from a source checkout: it writes next to this file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.evaluation.knowledge_set_generation.assemble import build
from bot.evaluation.knowledge_set_generation.cases import questions, render_cases
from bot.evaluation.knowledge_set_generation.document import render

ROOT = Path(__file__).parent / "knowledge_set"


def outputs() -> dict[Path, str]:
    docs = build()
    files = {ROOT / "docs" / d.path: render(d) for d in docs}
    files[ROOT / "cases.toml"] = render_cases(questions(docs))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed file differs")
    args = parser.parse_args(argv)
    files = outputs()
    if args.check:
        stale = [
            p
            for p, text in files.items()
            if not p.exists() or p.read_text(encoding="utf-8") != text
        ]
        present = set((ROOT / "docs").rglob("*.md")) if (ROOT / "docs").exists() else set()
        extra = sorted(present - set(files))
        for path in [*stale, *extra]:
            print(f"differs: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale or extra else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(files) - 1} documents and cases.toml under {ROOT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
