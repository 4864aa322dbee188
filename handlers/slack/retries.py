"""Slack Web API retries that also count what they wait out.

Only calls that are safe to send twice are re-sent after a 5xx: a post, a stream start
or an append that got a 5xx may have taken effect (posting.py looks before posting again).
"""

from __future__ import annotations

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.observability import catalogue
from bot.observability.metrics import Metrics

# Reads, and writes that end in the same state however often they are sent.
IDEMPOTENT_METHODS = frozenset(
    {
        "auth.test",
        "users.info",
        "files.info",
        "conversations.replies",
        "chat.getPermalink",
        "chat.update",
        "chat.delete",
        "reactions.add",
        "reactions.remove",
        "assistant.threads.setStatus",
        "assistant.threads.setSuggestedPrompts",
        "assistant.threads.setTitle",
        "apps.connections.open",
    }
)
# A 429 here is an answer, not a wait: the reply is edited in place instead of streamed.
NOT_WAITED_OUT = frozenset({"chat.startStream"})


def method_of(request: HttpRequest) -> str:
    """The Web API method a request calls (the last segment of its URL)."""
    return request.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]


def _count_retry(metrics: Metrics, response: HttpResponse | None, retry: bool) -> bool:
    if retry and response is not None:
        metrics.count(catalogue.SLACK_API_ERRORS, status=str(response.status_code))
    return retry


class CountingRateLimitRetries(AsyncRateLimitErrorRetryHandler):
    """Waits out 429s (honouring Retry-After) and counts each one."""

    def __init__(self, metrics: Metrics, *, max_retry_count: int = 5) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._metrics = metrics

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        retry = await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )
        if retry and method_of(request) in NOT_WAITED_OUT:
            self._metrics.count(catalogue.SLACK_API_ERRORS, status="429")
            return False
        return _count_retry(self._metrics, response, retry)


class CountingServerErrorRetries(AsyncServerErrorRetryHandler):
    """Retries Slack's 5xx answers and counts each one."""

    def __init__(self, metrics: Metrics, *, max_retry_count: int = 3) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._metrics = metrics

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        # Every 5xx, not only the 500 and 503 the base handler retries; but only where
        # sending the call again cannot show something twice.
        retry = (
            response is not None
            and response.status_code >= 500
            and method_of(request) in IDEMPOTENT_METHODS
        )
        return _count_retry(self._metrics, response, retry)


def slack_retry_handlers(metrics: Metrics) -> list[AsyncRetryHandler]:
    return [CountingRateLimitRetries(metrics), CountingServerErrorRetries(metrics)]
