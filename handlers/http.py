"""The ASGI app: Slack's event endpoint and the health probes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.observability import catalogue
from bot.observability.metrics import Metrics
from handlers.request_limits import LimitRequestBody
from handlers.slack.request_guard import SlackRequestGuard


@dataclass(frozen=True)
class Readiness:
    """What `/readyz` reports: ready only when every part is."""

    model: str
    history: str

    @property
    def ready(self) -> bool:
        return self.model == "ready" and self.history in {"ready", "memory"}


def build_http_app(
    *,
    slack: AsyncApp | None,
    signing_secret: str | None,
    readiness: Callable[[], Awaitable[Readiness]],
    metrics: Metrics | None = None,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
    max_request_bytes: int = 1024 * 1024,
    extra_routes: list[Route] | None = None,
) -> Starlette:
    """Routes: `POST /slack/events` (when HTTP events are on), `GET /healthz`, `GET /readyz`,
    `GET /metrics` (Prometheus text).

    Every request body is capped at `max_request_bytes` (413 past it).
    """

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_: Request) -> Response:
        state = await readiness()
        body = {"ready": state.ready, **asdict(state)}
        return JSONResponse(body, status_code=200 if state.ready else 503)

    async def metrics_text(_: Request) -> Response:
        body = metrics.render() if metrics is not None else ""
        return PlainTextResponse(body, media_type="text/plain; version=0.0.4")

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_text, methods=["GET"]),
    ]
    if slack is not None and signing_secret is not None:
        handler = AsyncSlackRequestHandler(slack)
        guard = SlackRequestGuard(signing_secret)

        async def slack_events(request: Request) -> Response:
            started = time.monotonic()
            response = await guard.refuse(request) or await handler.handle(request)
            if metrics is not None:
                metrics.observe(catalogue.SLACK_ACK_SECONDS, time.monotonic() - started)
                metrics.count(catalogue.SLACK_REQUESTS, status=str(response.status_code))
            return response

        routes.append(Route("/slack/events", slack_events, methods=["POST"]))
    routes.extend(extra_routes or [])
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(LimitRequestBody, max_bytes=max_request_bytes)],
    )
