"""Metrics and logs: the one metric catalogue, log lines (text or JSON) with a
request id that follows the work, and secrets removed from every log record.

May import `bot.safety` (for redaction); nothing else of `bot`.
"""
