"""The one error root of supportbot.

    BotError
    ├── ConfigError             a setting is missing or invalid; start-up stops
    ├── AttachmentError         one attachment cannot be used (the others still are)
    │   ├── AttachmentRefused       not from an allowed host, too large, not an image
    │   └── AttachmentUnreadable    download failed, corrupt or truncated image
    └── EngineError             the model could not produce an answer
        ├── ModelUnavailable        the model failed to load (or is not loaded yet)
        └── GenerationFailed        generation broke off midway

Every transport has one error boundary that catches `BotError`, logs it and
tells the user `user_message`; anything else is logged with its traceback and
answered with a generic apology, and the process keeps running.
"""

from __future__ import annotations

from bot.messages import Message


class BotError(Exception):
    """Base of every error supportbot raises on purpose."""


class ConfigError(BotError):
    """A setting is missing or invalid."""


class AttachmentError(BotError):
    """One attachment cannot be shown to the model.

    Args:
        filename: the name the user sees.
        reason: the sentence (from `bot.messages`) that tells the user why.
        values: what the sentence is filled in with (a limit, a status code).
    """

    def __init__(self, filename: str, reason: Message, **values: object) -> None:
        super().__init__(f"{filename}: {reason.value} {values or ''}".rstrip())
        self.filename = filename
        self.reason = reason
        self.values = values


class AttachmentRefused(AttachmentError):
    """The attachment was refused before or while downloading."""


class AttachmentUnreadable(AttachmentError):
    """The attachment could not be downloaded or decoded."""


class EngineError(BotError):
    """The model could not produce an answer."""


class ModelUnavailable(EngineError):
    """The model is not loaded: it failed to load, or the engine is closed."""


class GenerationFailed(EngineError):
    """Generation stopped with an error before the answer was complete."""
