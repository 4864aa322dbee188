"""A logging filter that redacts secrets and personal data from every log line."""

from __future__ import annotations

import logging

from bot.printable_urls import without_userinfo
from bot.safety.redaction import Redactor


class RedactingLogFilter(logging.Filter):
    """Rewrites each record's message (and exception text) through the redactor.

    Redactions in logs are not counted: the metric counts what answers would have shown.
    URLs lose their user information (`user:password@`) as well.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redactor.redact(without_userinfo(record.exc_text), count=False)
        record.msg = self._redactor.redact(without_userinfo(message), count=False)
        record.args = None
        return True
