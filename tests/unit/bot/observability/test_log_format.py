from __future__ import annotations

import json
import logging

from bot.observability.log_context import log_context
from bot.observability.log_format import ContextTextFormatter, JsonFormatter


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("bot.test", logging.WARNING, __file__, 1, message, args, None)


def test_json_lines_carry_the_work_context() -> None:
    with log_context(workspace="T1", channel="C1", thread="1.0") as request_id:
        line = JsonFormatter().format(_record("answer %s failed", "x"))
    entry = json.loads(line)
    assert entry["message"] == "answer x failed" and entry["level"] == "WARNING"
    assert entry["request_id"] == request_id and entry["channel"] == "C1"
    assert set(entry) >= {"ts", "logger", "workspace", "thread"}


def test_nested_contexts_keep_the_outer_request_id_unless_given() -> None:
    with log_context(workspace="T1") as outer:
        with log_context(request_id="job-7", thread="SD-1"):
            inner = json.loads(JsonFormatter().format(_record("x")))
        after = json.loads(JsonFormatter().format(_record("y")))
    assert inner["request_id"] == "job-7" and inner["workspace"] == "T1"
    assert after["request_id"] == outer and "thread" not in after


def test_text_lines_append_the_context() -> None:
    with log_context(request_id="r1", channel="C9"):
        line = ContextTextFormatter("%(message)s").format(_record("hello"))
    assert line == "hello [channel=C9 request_id=r1]"
