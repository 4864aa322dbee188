"""Slack Web API retries that also count what they wait out."""

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
        # Every 5xx, not only the 500 and 503 the base handler retries.
        retry = response is not None and response.status_code >= 500
        return _count_retry(self._metrics, response, retry)


def slack_retry_handlers(metrics: Metrics) -> list[AsyncRetryHandler]:
    return [CountingRateLimitRetries(metrics), CountingServerErrorRetries(metrics)]
