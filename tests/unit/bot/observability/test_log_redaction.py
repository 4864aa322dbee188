from __future__ import annotations

import io
import logging

from bot.observability.log_redaction import RedactingLogFilter
from bot.safety.redaction import Redactor


def test_log_lines_and_tracebacks_are_redacted_and_not_counted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    redactor = Redactor()
    handler.addFilter(RedactingLogFilter(redactor))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("user %s sent token %s", "alice@example.com", "xoxb-1234567890-abcdef")
        try:
            raise ValueError("connect to postgres://app:hunter22@db:5432 failed")
        except ValueError:
            logger.exception("query failed")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    for secret in ("alice@example.com", "xoxb-1234567890-abcdef", "hunter22"):
        assert secret not in written
    assert "[redacted email]" in written and "Traceback" in written
    assert redactor.stats.snapshot() == {}


def test_urls_in_log_lines_lose_their_user_information() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingLogFilter(Redactor()))
    logger = logging.getLogger("test.redaction.userinfo")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("remote engine at %s unreachable", "http://svc:EngineUrlPw123@engine:8000")
        logger.info("connecting to %s", "https://deploy@slack.example/api/")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "EngineUrlPw123" not in written and "svc" not in written
    assert "deploy@" not in written
    assert "remote engine at http://engine:8000 unreachable" in written
