"""Build the async Bolt app: the same listeners serve HTTP events and Socket Mode."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.channel_policy import ChannelPolicy
from bot.conversation.feedback import FeedbackStore
from bot.intake.greetings import Greetings
from bot.intake.work_log import WorkLog
from bot.observability.metrics import Metrics
from bot.safety.redaction import Redactor
from handlers.slack.answering import SlackAnswerer
from handlers.slack.assistant import register_assistant
from handlers.slack.escalation import EscalationDesk, register_escalation
from handlers.slack.feedback import register_feedback
from handlers.slack.listeners import KnownThreads, register_listeners
from handlers.slack.message_reader import SlackMessageReader
from handlers.slack.names import SlackNames
from handlers.slack.recovery import register_recording
from handlers.slack.unhandled import register_unhandled
from handlers.slack.user_language import UserLanguages
from handlers.slack.users import SlackUsers


class _SameTokenWarning(logging.Filter):
    """Drops Bolt's "As you gave `client` as well, `token` will be unused".

    `AsyncApp` fills `token` from SLACK_BOT_TOKEN itself and then warns that our
    client wins; the client carries that same token (Settings reads the same
    variable, and the environment wins over `.env`), so the warning only misleads.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_SAME_TOKEN_WARNING = _SameTokenWarning()


def build_bolt_app(
    *,
    client: AsyncWebClient,
    answerer: SlackAnswerer,
    policy: ChannelPolicy,
    feedback: FeedbackStore,
    greetings: Greetings,
    threads: KnownThreads,
    redactor: Redactor,
    metrics: Metrics,
    desk: EscalationDesk | None = None,
    work_log: WorkLog | None = None,
    ack_budget_seconds: float = 1.0,
) -> AsyncApp:
    """An `AsyncApp` that acknowledges first and answers in the background.

    Args:
        client: Web API client (its `base_url` points at Slack, or a test server).
        answerer: runs accepted turns.
        policy: which channels and users the bot answers, and in which language.
        feedback: where the feedback buttons' verdicts go.
        greetings: who was greeted today, shared by the replicas.
        threads: which threads the bot took part in (the conversation history).
        redactor: cleans the user's words before they are recorded or shown.
        metrics: where feedback is counted.
        desk: hands threads to people; None when escalation is off (the answerer has
            the same one).
        work_log: records question-bearing events before they are acknowledged.
        ack_budget_seconds: the most time that recording may take before the ack.
    """
    # Bolt's own logger for this class (slack_bolt.logger.get_bolt_logger).
    bolt_log = logging.getLogger(f"slack_bolt.{AsyncApp.__name__}")
    if _SAME_TOKEN_WARNING not in bolt_log.filters:
        bolt_log.addFilter(_SAME_TOKEN_WARNING)
    app = AsyncApp(
        client=client,
        # One signature check: handlers/slack/request_guard.py verifies every HTTP request
        # before Bolt sees it (the only route to Bolt over HTTP); Socket Mode requests come
        # over the app-level token's WebSocket and carry no signature.
        signing_secret="",
        request_verification_enabled=False,
        process_before_response=False,
    )
    if work_log is not None:
        register_recording(app, work_log, redactor, budget_seconds=ack_budget_seconds)
    users = SlackUsers()  # one users.info cache: names and locales
    languages = UserLanguages(users)
    register_assistant(app, languages, greetings)
    reader = SlackMessageReader(SlackNames(users=users))
    register_listeners(
        app,
        answerer,
        policy,
        languages,
        threads=threads,
        redactor=redactor,
        cases=desk.cases if desk is not None else None,
        reader=reader,
    )
    register_feedback(app, feedback, metrics)
    if desk is not None:
        register_escalation(app, desk)
    register_unhandled(app, escalation=desk is not None)  # last: it takes the rest
    return app
