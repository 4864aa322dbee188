"""The knowledge sources an admin declares: a TOML file named by `KNOWLEDGE_CONFIG`.

    [[sources]]
    name = "runbooks"
    type = "folder"
    path = "/srv/runbooks"
    url_template = "https://git.example.com/ops/runbooks/blob/main/{path}"
    channels = ["C0PRIVATE1"]      # absent or ["*"]: everyone

Fields a source type does not use are kept in `options` for its factory (the
vendor sources read `spaces`, `sections`, `locale` from there, the web source
`allowed_networks`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.errors import ConfigError
from bot.knowledge.sources.base import Visibility


class SourceConfig(BaseModel):
    """One `[[sources]]` table."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    type: str = Field(min_length=1, max_length=32)
    path: Path | None = None
    url: str | None = None
    sitemap: str | None = None
    url_template: str | None = None
    channels: list[str] | None = None
    max_pages: int = Field(default=500, ge=1, le=100_000)

    @field_validator("channels")
    @classmethod
    def _channel_ids(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for channel in value:
            if channel != "*" and not channel.replace("_", "").isalnum():
                raise ValueError(f"{channel!r} is not a channel id")
        return value

    @property
    def visibility(self) -> Visibility:
        """Everyone when `channels` is absent or holds "*", else only those channels."""
        if self.channels is None or "*" in self.channels:
            return Visibility.everyone()
        return Visibility.only(self.channels)

    @property
    def options(self) -> dict[str, Any]:
        """The fields only this source's type knows (spaces, sections, locale …)."""
        return dict(self.model_extra or {})


class KnowledgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[SourceConfig] = []

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, value: list[SourceConfig]) -> list[SourceConfig]:
        names = [source.name for source in value]
        if duplicated := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"source names must be unique: {', '.join(duplicated)}")
        return value


def load_knowledge_config(path: Path) -> KnowledgeConfig:
    """The sources declared in `path`; a `ConfigError` naming every problem otherwise."""
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"KNOWLEDGE_CONFIG: cannot read {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"KNOWLEDGE_CONFIG: {path} is not valid TOML: {error}") from None
    try:
        return KnowledgeConfig.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise ConfigError(f"KNOWLEDGE_CONFIG: {path}: {problems}") from None
