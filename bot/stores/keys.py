"""Every Redis key supportbot writes, declared once: pattern, type, owner, TTL and contents.

Every key starts with `REDIS_KEY_PREFIX` (default `supportbot`), so several bots
can share one Redis. Stores build their keys only through `KeyPattern.key`; a
test checks that no store spells a key of its own. docs/architecture.md shows
this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyPattern:
    """One family of Redis keys."""

    pattern: str
    """The key, with `{prefix}` and the parts that vary in braces."""
    type: str
    owner: str
    ttl: str
    contents: str

    def key(self, prefix: str, **parts: str) -> str:
        """The key for these parts, e.g. `HISTORY.key("supportbot", thread="T1:C1:1.0")`."""
        return self.pattern.format(prefix=prefix, **parts)


HISTORY = KeyPattern(
    "{prefix}:history:{thread}",
    "list",
    "bot.stores.history",
    "HISTORY_TTL_SECONDS after the last entry (7 days)",
    "the thread's turns as JSON, capped at HISTORY_MAX_TURNS; user text and text files "
    "redacted; the attachment listing in order; images by hash",
)
IMAGE = KeyPattern(
    "{prefix}:image:{digest}",
    "string",
    "bot.stores.history",
    "HISTORY_TTL_SECONDS, renewed by each thread that shows it",
    "a screenshot's bytes, once per SHA-256 of its content",
)
HANDLED = KeyPattern(
    "{prefix}:handled:{event}",
    "string",
    "bot.stores.handled_events",
    "the work lease while answering, then 24 h",
    "`working` or `done`: which Slack message was claimed, so it is answered once",
)
UNANSWERED = KeyPattern(
    "{prefix}:slack:unanswered",
    "hash",
    "bot.stores.work_log",
    "none; each field is removed when its answer is finished",
    "event id → the accepted Slack event (text and file names redacted) and when it arrived,"
    " for redelivery after a crash",
)
RATE = KeyPattern(
    "{prefix}:rate:{subject}",
    "string",
    "bot.stores.rate_limit",
    "the rule's window (60 s; 1 h for the escalation shortcut)",
    "a counter of one subject's requests in the current window: questions per user or"
    " channel, shortcut escalations per person, stream starts per workspace",
)
GREETED = KeyPattern(
    "{prefix}:greeted:{workspace}:{user}",
    "string",
    "bot.stores.greetings",
    "24 h",
    "`1`: the person was greeted in the app's Messages tab today, so no replica greets again",
)
FEEDBACK = KeyPattern(
    "{prefix}:feedback:{thread}",
    "hash",
    "bot.stores.feedback",
    "90 days after the last verdict",
    "user id → ✅ solved or 👎 not helpful",
)
CASE = KeyPattern(
    "{prefix}:case:{thread}",
    "string",
    "bot.stores.cases",
    "90 days after the last change",
    "the thread's escalation case as JSON: status, owner, resolution",
)
LATEST_THREAD = KeyPattern(
    "{prefix}:latest_thread:{workspace}:{channel}:{user}",
    "string",
    "bot.stores.cases",
    "90 days",
    "the thread a user last asked in, for `/escalate` typed outside a thread",
)
KNOWLEDGE = KeyPattern(
    "{prefix}:knowledge",
    "list",
    "bot.stores.knowledge",
    "none; capped at the newest 5,000",
    "resolved cases as JSON (error, resolution, date), searched for similar questions",
)
JOB = KeyPattern(
    "{prefix}:job:{job}",
    "string",
    "bot.stores.jobs",
    "30 days",
    "one helpdesk job as JSON, ticket text and file names redacted (written with NX, so a"
    " replayed delivery makes no second job)",
)
JOBS_STREAM = KeyPattern(
    "{prefix}:jobs:stream",
    "stream",
    "bot.stores.jobs",
    "none; an entry is deleted when its job is over, retried later or handed back",
    "one entry per queued helpdesk job (field `job`: its id), read by the consumer group"
    " `runners`: a claimed entry stays pending for its replica, whose lease is the entry's"
    " idle time, renewed while it works and taken over (XAUTOCLAIM) once it runs out",
)
JOBS_DELAYED = KeyPattern(
    "{prefix}:jobs:delayed",
    "zset",
    "bot.stores.jobs",
    "none; ids leave when due (added to the stream atomically)",
    "ids of helpdesk jobs waiting to be tried again, scored by when (unix time)",
)
JOBS_DEAD = KeyPattern(
    "{prefix}:jobs:dead",
    "list",
    "bot.stores.jobs",
    "none; capped at the newest 1,000",
    "ids of dead-lettered helpdesk jobs, newest first (the job's record says why)",
)
DELIVERY = KeyPattern(
    "{prefix}:delivery:{provider}:{digest}",
    "string",
    "bot.stores.deliveries",
    "7 days",
    "the job a vendor's delivery id made (SHA-256 of the id), so a redelivery makes no new job",
)

ERROR_LINE = KeyPattern(
    "{prefix}:error_line:v{version}:{digest}",
    "string",
    "bot.stores.error_lines",
    "HISTORY_TTL_SECONDS after the last read or write (7 days)",
    'the error line the model read off a screenshot (redacted; "" when it saw none), per'
    " SHA-256 of the image and version of the pass's prompt, so replicas run the pass once",
)

KEYSPACE: tuple[KeyPattern, ...] = tuple(
    value for value in list(globals().values()) if isinstance(value, KeyPattern)
)

# Written by versions before helpdesk jobs were leased; read only to carry their jobs
# over to `JOBS_STREAM` on upgrade, then deleted. Not part of the keyspace.
RETIRED: tuple[KeyPattern, ...] = (
    KeyPattern(
        "{prefix}:jobs:queue",
        "list",
        "bot.stores.jobs",
        "none; ids leave when claimed",
        "ids of helpdesk jobs waiting to run",
    ),
    KeyPattern(
        "{prefix}:jobs:processing",
        "list",
        "bot.stores.jobs",
        "none; ids leave when their job finishes",
        "ids of claimed jobs, moved atomically from the queue",
    ),
)
RETIRED_JOBS_QUEUE, RETIRED_JOBS_PROCESSING = RETIRED
