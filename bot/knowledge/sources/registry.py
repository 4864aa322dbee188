"""Which class builds a source of each configured `type`.

Each entry takes the source's `SourceConfig` and the `SourceContext` (the
settings-derived things a source may need: HTTP client factory, vendor
credentials) and returns a `Source`. Vendor types register here beside the
built-in ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.knowledge.config import SourceConfig
from bot.knowledge.sources.base import Source


@dataclass(frozen=True)
class SourceContext:
    """What sources may need beyond their own table.

    `credentials` maps a vendor (`zendesk`, `confluence`, `intercom`) to what the
    settings hold for it; `allow_loopback` lets tests point the web source at a
    local fake server (never set from the environment).
    """

    base_dir: Path = Path(".")
    credentials: Mapping[str, Any] = field(default_factory=dict)
    allow_loopback: bool = False


SourceFactory = Callable[[SourceConfig, SourceContext], Source]


def _folder(config: SourceConfig, context: SourceContext) -> Source:
    from bot.knowledge.sources.folder import FolderSource

    if config.path is None:
        raise ConfigError(f"knowledge source {config.name}: a folder source needs `path`")
    root = config.path if config.path.is_absolute() else context.base_dir / config.path
    return FolderSource(
        name=config.name,
        root=root,
        visibility=config.visibility,
        url_template=config.url_template,
    )


FACTORIES: dict[str, SourceFactory] = {
    "folder": _folder,
}


def build_source(config: SourceConfig, context: SourceContext) -> Source:
    """The source `config` declares; a `ConfigError` for a type nobody registered."""
    factory = FACTORIES.get(config.type)
    if factory is None:
        known = ", ".join(sorted(FACTORIES))
        raise ConfigError(
            f"knowledge source {config.name}: unknown type {config.type!r} (known: {known})"
        )
    return factory(config, context)
