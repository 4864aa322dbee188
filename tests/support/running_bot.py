"""supportbot running over real HTTP against a fresh fake Slack, for scenario tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx
from redis import Redis

from bot.app import build_app
from bot.engine import Engine
from bot.settings import Settings
from handlers.helpdesks.registry import REGISTRY, Registry
from tests.support.fake_slack import FakeSlack
from tests.support.recording_engine import RecordingEngine
from tests.support.servers import ServerThread
from tests.support.slack_events import encode, envelope, signed_headers

BOT_TOKEN = "xoxb-test-token-0001"
SIGNING_SECRET = "test-signing-secret"


@dataclass
class RunningBot:
    slack: FakeSlack
    slack_url: str
    url: str
    engine: RecordingEngine
    redis_prefix: str

    def post_event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        headers: dict[str, str] | None = None,
        secret: str = SIGNING_SECRET,
    ) -> httpx.Response:
        body = encode(envelope(event, event_id=event_id))
        sent = signed_headers(secret, body) | (headers or {})
        return httpx.post(f"{self.url}/slack/events", content=body, headers=sent, timeout=10)

    def answers_in(self, channel: str, thread_ts: str) -> list[str]:
        """The final text of every reply the bot posted in a thread."""
        return [
            self.slack.final_text(channel, call.args["_ts"])
            for call in self.slack.thread_messages(channel, thread_ts)
        ]

    def wait_for_answer(self, channel: str, thread_ts: str, count: int = 1) -> list[str]:
        """Wait until `count` replies in the thread are finished (no longer a placeholder)."""

        def finished() -> list[str] | None:
            answers = self.answers_in(channel, thread_ts)
            done = [a for a in answers if a and not a.startswith("_") and not a.endswith(" …")]
            return answers if len(done) >= count and len(done) == len(answers) else None

        return list(self.slack.wait_for(finished))


@contextmanager
def run_bot(
    engine: Engine,
    redis_url: str,
    *,
    update_interval: float = 0.2,
    slack: FakeSlack | None = None,
    helpdesks: Registry = REGISTRY,
    **overrides: Any,
) -> Iterator[RunningBot]:
    """Serve supportbot with `engine` (recorded) against a fake Slack and `redis_url`, answering
    the webhooks of `helpdesks`."""
    slack = slack or FakeSlack(bot_token=BOT_TOKEN)
    with ServerThread(slack.app) as slack_server:
        slack.base_url = slack_server.url
        values: dict[str, Any] = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": f"{slack_server.url}/api/",
            "slack_file_url_prefixes": [f"{slack_server.url}/files/"],
            "redis_url": redis_url,
            # Its own keys: a port can come round again in a session, and a bot that met
            # an earlier one's keys would share its rate limits (stream starts) and history.
            "redis_key_prefix": f"supportbot-scenario-{uuid.uuid4().hex[:12]}",
            "max_new_tokens": 24,
        }
        # As in the environment, one set of values: each helpdesk's own go to its settings.
        values |= overrides
        own = {name: values.pop(name) for name in helpdesks.setting_fields & values.keys()}
        settings = Settings(_env_file=None, **values)
        recording = RecordingEngine(engine)
        supportbot = build_app(
            settings,
            engine=recording,
            update_interval=update_interval,
            helpdesks=helpdesks,
            helpdesk_settings=helpdesks.settings(_env_file=None, **own),
        )
        with ServerThread(supportbot.asgi) as bot_server:
            yield RunningBot(
                slack=slack,
                slack_url=slack_server.url,
                url=bot_server.url,
                engine=recording,
                redis_prefix=settings.redis_key_prefix,
            )


def stored_answers(bot: RunningBot, redis_url: str) -> list[str]:
    """The answers the bot kept in Redis, in the order of each thread's history."""
    client = Redis.from_url(redis_url)
    try:
        records = [
            json.loads(raw)
            for key in client.scan_iter(f"{bot.redis_prefix}:history:*")
            for raw in cast(list[bytes], client.lrange(key, 0, -1))
        ]
    finally:
        client.close()
    return [r["text"] for r in records if r["speaker"] == "assistant"]
