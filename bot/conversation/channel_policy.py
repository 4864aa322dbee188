"""When the bot answers, channel by channel, from an operator's TOML file.

[defaults]
mode = "mention"            # mention: only when mentioned; support: every new thread; off
language = "auto"           # auto (the user's), en or zh
direct_messages = true
allowed_users = []          # empty: everyone
allowed_channels = []       # empty: every channel the bot is in

[channels.C0123456789]
mode = "support"
language = "zh"
knowledge_sources = ["runbooks"]   # absent: every knowledge source the channel may see
answer_only_with_source = true     # nothing relevant found: say so, offer escalation
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import ConfigError
from bot.messages import Language


class AnswerMode(StrEnum):
    MENTION = "mention"
    SUPPORT = "support"
    OFF = "off"


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: AnswerMode | None = None
    language: Literal["auto", "en", "zh"] | None = None
    allowed_users: list[str] | None = None
    # Which knowledge sources (by their KNOWLEDGE_CONFIG name) the channel draws on;
    # absent: every source whose visibility allows the channel.
    knowledge_sources: list[str] | None = None
    # Nothing relevant found: say so and offer escalation instead of answering.
    answer_only_with_source: bool | None = None


class _DefaultsFile(_RulesFile):
    direct_messages: bool = True
    allowed_channels: list[str] = []


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    defaults: _DefaultsFile = _DefaultsFile()
    channels: dict[str, _RulesFile] = {}


@dataclass(frozen=True)
class ChannelRules:
    mode: AnswerMode = AnswerMode.MENTION
    language: Language | None = None  # None: follow the user
    allowed_users: frozenset[str] = frozenset()  # empty: everyone
    knowledge_sources: frozenset[str] | None = None  # None: every source it may see
    answer_only_with_source: bool = False

    def allows(self, user_id: str) -> bool:
        return not self.allowed_users or user_id in self.allowed_users


@dataclass(frozen=True)
class ChannelPolicy:
    """Decides, per channel and user, whether a message is the bot's to answer."""

    defaults: ChannelRules = ChannelRules()
    channels: dict[str, ChannelRules] = field(default_factory=dict)
    direct_messages: bool = True
    allowed_channels: frozenset[str] = frozenset()

    def rules_for(self, channel: str) -> ChannelRules:
        if self.allowed_channels and channel not in self.allowed_channels:
            return ChannelRules(mode=AnswerMode.OFF)
        return self.channels.get(channel, self.defaults)

    def answers_mention(self, channel: str, user_id: str) -> bool:
        rules = self.rules_for(channel)
        return rules.mode is not AnswerMode.OFF and rules.allows(user_id)

    def answers_new_message(self, channel: str, user_id: str) -> bool:
        """A top-level message that does not mention the bot (support channels only)."""
        rules = self.rules_for(channel)
        return rules.mode is AnswerMode.SUPPORT and rules.allows(user_id)

    def answers_thread_reply(self, channel: str, user_id: str) -> bool:
        """A reply in a thread the bot is already in."""
        return self.answers_mention(channel, user_id)

    def answers_direct_message(self, user_id: str) -> bool:
        return self.direct_messages and self.defaults.allows(user_id)

    @classmethod
    def from_file(cls, path: Path) -> ChannelPolicy:
        """Read a TOML policy; a wrong key or value raises `ConfigError` naming it."""
        try:
            parsed = _PolicyFile.model_validate(tomllib.loads(path.read_text("utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"CHANNEL_CONFIG {path}: {error}") from None
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ConfigError(f"CHANNEL_CONFIG {path}: {where}: {first['msg']}") from None
        defaults = _rules(parsed.defaults, ChannelRules())
        return cls(
            defaults=defaults,
            channels={
                channel: _rules(rules, defaults) for channel, rules in parsed.channels.items()
            },
            direct_messages=parsed.defaults.direct_messages,
            allowed_channels=frozenset(parsed.defaults.allowed_channels),
        )


def _rules(raw: _RulesFile, inherit: ChannelRules) -> ChannelRules:
    language = inherit.language
    if raw.language is not None:
        language = None if raw.language == "auto" else Language(raw.language)
    return ChannelRules(
        mode=raw.mode or inherit.mode,
        language=language,
        allowed_users=(
            frozenset(raw.allowed_users) if raw.allowed_users is not None else inherit.allowed_users
        ),
        knowledge_sources=(
            frozenset(raw.knowledge_sources)
            if raw.knowledge_sources is not None
            else inherit.knowledge_sources
        ),
        answer_only_with_source=(
            raw.answer_only_with_source
            if raw.answer_only_with_source is not None
            else inherit.answer_only_with_source
        ),
    )
