"""Build the async Bolt app: the same listeners serve HTTP events and Socket Mode."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.answering import SlackAnswerer
from handlers.slack.listeners import register_listeners


def build_bolt_app(
    *, client: AsyncWebClient, signing_secret: str | None, answerer: SlackAnswerer
) -> AsyncApp:
    """An `AsyncApp` that acknowledges first and answers in the background.

    Args:
        client: Web API client (its `base_url` points at Slack, or a test server).
        signing_secret: verifies HTTP requests; None for Socket Mode only.
        answerer: runs accepted turns.
    """
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret or "",
        request_verification_enabled=signing_secret is not None,
        process_before_response=False,
    )
    register_listeners(app, answerer)
    return app
