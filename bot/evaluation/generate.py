"""Regenerate the shipped eval set's screenshots from the case definitions.

    python -m bot.evaluation.generate          # write set/images and set/manifest.json
    python -m bot.evaluation.generate --check  # exit 1 when a committed file differs

Needs the fonts in `rendering.FONTS` (Debian: fonts-dejavu-core, fonts-liberation2,
fonts-wqy-microhei, fonts-wqy-zenhei). Run it from a source checkout: it writes
next to this file. The bot and its tests only read what it wrote.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import PIL
from PIL import features

from bot.evaluation.cases import EvalCase, parse_category
from bot.evaluation.rendering import Rendered, fonts_used, render_case

SET = Path(__file__).parent / "set"


def definitions(root: Path = SET) -> list[EvalCase]:
    cases: list[EvalCase] = []
    for path in sorted((root / "cases").glob("*.toml")):
        cases.extend(parse_category(path.stem, path.read_text("utf-8")))
    return cases


def manifest_entry(case: EvalCase, rendered: Rendered) -> dict[str, object]:
    return {
        "file": f"{case.id}.{rendered.extension}",
        "width": rendered.width,
        "height": rendered.height,
        "smallest_line_px": rendered.smallest_line_px,
        "sha256": hashlib.sha256(rendered.data).hexdigest(),
    }


def generate(root: Path = SET, *, check: bool = False) -> list[str]:
    """Render every case; write the files (or, with `check`, list the ones that differ)."""
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    entries: dict[str, dict[str, object]] = {}
    differs: list[str] = []
    for case in definitions(root):
        rendered = render_case(case)
        entry = manifest_entry(case, rendered)
        entries[case.id] = entry
        target = images / str(entry["file"])
        if check:
            if not target.is_file() or target.read_bytes() != rendered.data:
                differs.append(case.id)
        else:
            target.write_bytes(rendered.data)
    print(f"{len(entries)} cases rendered", file=sys.stderr)
    manifest = {
        "generator": {
            "pillow": PIL.__version__,
            "freetype": features.version("freetype2"),
            "command": "python -m bot.evaluation.generate",
        },
        "fonts": fonts_used(),
        "cases": entries,
    }
    text = json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if check:
        if (root / "manifest.json").read_text("utf-8") != text:
            differs.append("manifest.json")
        return differs
    (root / "manifest.json").write_text(text, "utf-8")
    wanted = {str(entry["file"]) for entry in entries.values()}
    for stale in images.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.evaluation.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    differs = generate(check=args.check)
    if differs:
        print("differ from the definitions: " + ", ".join(differs), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
