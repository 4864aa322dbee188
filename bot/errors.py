"""The one error root of supportbot: every error a user is told about.

    BotError
    ├── ConfigError             a setting is missing or invalid; start-up stops
    ├── AnswerStopped           the person pressed Stop while the answer was written
    ├── AttachmentError         one attachment cannot be used (the others still are)
    │   ├── AttachmentRefused       not from an allowed host, too large, not an image
    │   └── AttachmentUnreadable    download failed, corrupt or truncated image
    ├── KnowledgeSourceError    a knowledge source cannot be listed or read (the others still sync)
    ├── StoreUnavailable        a store (Redis) did not answer; the caller decides what to skip
    └── EngineError             the model could not produce an answer
        ├── ModelUnavailable        the model failed to load (or is not loaded yet)
        ├── EngineBusy              the waiting line is full; try again later
        ├── QueueTimeout            waited too long for the model
        ├── GenerationTimeout       the answer took too long to write
        └── GenerationFailed        generation broke off midway

Each error carries what its user reads: `message` (a `bot.messages.Message`)
and the values it is filled in with, so `error.user_message(language)` is the
one place an error becomes a sentence. Every transport has one error boundary
that catches `BotError`, logs it and tells the user `user_message`; anything
else is logged with its traceback and answered with a generic apology (with a
reference to find it in the log), and the process keeps running.
"""

from __future__ import annotations

from typing import ClassVar

from bot.messages import Language, Message, say


def first_line(error: BaseException) -> str:
    """An error in one line for a log or a check: its type and the first line it says.

    Example:
        >>> first_line(OSError("Connection refused\\nat 127.0.0.1:6379"))
        'OSError: Connection refused'
        >>> first_line(TimeoutError())
        'TimeoutError'
    """
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


class BotError(Exception):
    """Base of every error supportbot raises on purpose.

    Example:
        >>> EngineBusy(retry_after=30).user_message(Language.ENGLISH)
        'I am busy with other questions. Please try again in about 30 s.'
    """

    message: ClassVar[Message] = Message.INTERNAL_ERROR
    """What the user reads when this error ends their request."""

    def message_values(self) -> dict[str, object]:
        """What `message` is filled in with."""
        return {"reference": type(self).__name__}

    def user_message(self, language: Language = Language.ENGLISH) -> str:
        """The sentence the user reads, in their language."""
        return say(self.message, language, **self.message_values())


class ConfigError(BotError):
    """One or more settings are missing or invalid.

    Args:
        problems: one line per setting, naming it and what is wrong.
    """

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class AnswerStopped(BotError):
    """The person stopped the answer (or the chat closed it); nothing more is shown.

    Never told to the user: the boundary only clears the working indicator.
    """


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

    def user_message(self, language: Language = Language.ENGLISH) -> str:
        reason = say(self.reason, language, **self.values)
        return say(Message.SKIPPED_FILE, language, filename=self.filename, reason=reason)


class AttachmentRefused(AttachmentError):
    """The attachment was refused before or while downloading."""


class AttachmentUnreadable(AttachmentError):
    """The attachment could not be downloaded or decoded."""


class KnowledgeSourceError(BotError):
    """A knowledge source, or one of its documents, cannot be listed or read.

    Args:
        source: the source's configured name.
        reason: one line an admin can act on.
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class StoreUnavailable(BotError):
    """A store could not be reached or refused the call (Redis down, a dropped connection).

    Raised by `bot.stores` in place of the client library's errors, so the callers
    outside the stores catch the bot's error and never import the store's client.

    Args:
        operation: what was asked of the store (`work_log_record`, `jobs_claim`, ...).
        cause: the client's error, one line.
    """

    def __init__(self, operation: str, cause: str) -> None:
        super().__init__(f"{operation}: {cause}")
        self.operation = operation
        self.cause = cause


class EngineError(BotError):
    """The model could not produce an answer."""


class ModelUnavailable(EngineError):
    """The model is not loaded: it failed to load, or the engine is closed."""

    message = Message.MODEL_UNAVAILABLE


class GenerationFailed(EngineError):
    """Generation stopped with an error before the answer was complete."""

    message = Message.GENERATION_FAILED


class EngineBusy(EngineError):
    """The waiting line is full.

    Args:
        retry_after: a fair estimate, in seconds, of when there will be room.
    """

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the model is busy; retry in about {retry_after} s")
        self.retry_after = retry_after

    message = Message.ENGINE_BUSY

    def message_values(self) -> dict[str, object]:
        return {"seconds": self.retry_after}


class QueueTimeout(EngineError):
    """The request waited for the model longer than its queue deadline."""

    message = Message.QUEUE_TIMEOUT


class GenerationTimeout(EngineError):
    """The answer was not finished within its generation deadline."""

    message = Message.GENERATION_TIMEOUT
