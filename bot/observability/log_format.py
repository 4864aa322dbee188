"""Log formatting: one JSON object per line (for log pipelines) or plain text (for people)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from bot.observability.log_context import current_fields
from bot.observability.log_redaction import RedactingLogFilter
from bot.safety.redaction import Redactor


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", request_id, workspace, channel, thread…}` per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **current_fields(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class ContextTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = current_fields()
        if fields:
            text += " [" + " ".join(f"{k}={v}" for k, v in sorted(fields.items())) + "]"
        return text


def configure_logging(*, level: str, json_lines: bool, redactor: Redactor) -> None:
    """Root logging for the process: every line redacted, with the work's context fields."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else ContextTextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactingLogFilter(redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
