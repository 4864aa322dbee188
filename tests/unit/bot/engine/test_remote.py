"""The remote engine against real HTTP servers: errors mapped onto the bot's tree, and a
readiness that heals when a server that was down comes up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from bot.engine import ChatMessage, EngineState, GenerationRequest, Role, TextPart
from bot.engine.remote import RemoteEngine
from bot.errors import EngineBusy, GenerationFailed, GenerationTimeout, ModelUnavailable
from bot.printable_urls import without_userinfo
from tests.support.servers import ServerThread, free_port

pytestmark = pytest.mark.slow

REQUEST = GenerationRequest(messages=(ChatMessage(Role.USER, (TextPart("what is this?"),)),))


def _server(status: int, headers: dict[str, str] | None = None) -> Starlette:
    # The error body OpenAI-compatible servers send (vLLM's ErrorResponse, OpenAI's own):
    # https://platform.openai.com/docs/guides/error-codes
    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": "m", "object": "model"}]})

    async def completions(request: Request) -> JSONResponse:
        body = {"error": {"message": f"refused with {status}", "type": "error", "code": status}}
        return JSONResponse(body, status_code=status, headers=headers)

    return Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/v1/chat/completions", completions, methods=["POST"]),
        ]
    )


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (429, {"retry-after": "7"}, EngineBusy),
        (500, None, GenerationFailed),
        (404, None, ModelUnavailable),
        (401, None, ModelUnavailable),
        (400, None, GenerationFailed),
    ],
)
async def test_a_refused_request_becomes_the_bots_own_error(
    status: int, headers: dict[str, str] | None, expected: type[Exception]
) -> None:
    with ServerThread(_server(status, headers)) as server:
        engine = RemoteEngine(server.url, "m", max_retries=0, readiness_delays=())
        await engine.start()
        assert engine.state is EngineState.READY
        with pytest.raises(expected) as raised:
            [piece async for piece in engine.stream(REQUEST)]
        await engine.close()
    if isinstance(raised.value, EngineBusy):
        assert raised.value.retry_after == 7  # the server's Retry-After, not a guess


async def test_an_engine_waiting_for_its_server_turns_ready_when_the_server_comes_up() -> None:
    port = free_port()
    engine = RemoteEngine(
        f"http://ops:s3cret@127.0.0.1:{port}",
        "m",
        readiness_delays=(0.05, 0.1),
    )
    await engine.start()
    assert engine.state is EngineState.FAILED and engine.recoverable
    failure = engine.failure or ""
    assert f"waiting for the model server at http://127.0.0.1:{port}" in failure
    assert "last error APIConnectionError" in failure and "next try in 0.05 s" in failure
    assert "s3cret" not in failure and "ops@" not in failure
    with ServerThread(_server(200), port=port):
        for _ in range(200):
            if _state(engine) is EngineState.READY:
                break
            await asyncio.sleep(0.05)
        assert _state(engine) is EngineState.READY and engine.failure is None
    await engine.close()
    assert _state(engine) is EngineState.CLOSED


def _state(engine: RemoteEngine) -> EngineState:
    return engine.state  # read afresh: the background check changes it


def test_userinfo_is_removed_and_everything_else_kept() -> None:
    assert without_userinfo("http://u:p@vllm:8000/x?y=1") == "http://vllm:8000/x?y=1"
    assert without_userinfo("http://u@[::1]:8000") == "http://[::1]:8000"
    assert without_userinfo("http://vllm:8000") == "http://vllm:8000"


def _http_date(seconds_from_now: int) -> str:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


@pytest.mark.parametrize(
    ("status", "retry_after", "low", "high"),
    [
        (503, "7", 7, 7),  # overloaded for now: busy, not a failed answer
        (429, "inf", 10, 10),  # no usable figure: our own guess
        (429, "nan", 10, 10),
        (429, "1e400", 10, 10),
        (429, "-5", 1, 1),
        (429, "99999999", 3600, 3600),  # the user is told the figure: at most an hour
        (429, "soon", 10, 10),
        (429, None, 60, 121),  # an HTTP date two minutes ahead (filled in below), to the second
    ],
)
async def test_a_servers_retry_after_is_honoured_within_bounds(
    status: int, retry_after: str | None, low: int, high: int
) -> None:
    value = retry_after if retry_after is not None else _http_date(121)
    with ServerThread(_server(status, {"retry-after": value})) as server:
        engine = RemoteEngine(server.url, "m", max_retries=0, readiness_delays=())
        await engine.start()
        with pytest.raises(EngineBusy) as raised:
            [piece async for piece in engine.stream(REQUEST)]
        await engine.close()
    assert low <= raised.value.retry_after <= high


async def _until(engine: RemoteEngine, state: EngineState) -> None:
    for _ in range(400):
        if _state(engine) is state:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"still {_state(engine)} ({engine.failure}), never {state}")


async def test_a_server_that_dies_after_ready_is_noticed_without_traffic_and_found_again() -> None:
    port = free_port()
    engine = RemoteEngine(f"http://127.0.0.1:{port}", "m", readiness_delays=(0.05, 0.1))
    with ServerThread(_server(200), port=port):
        await engine.start()
        assert _state(engine) is EngineState.READY
    await _until(engine, EngineState.FAILED)  # no request sent: the watcher saw it
    assert f"waiting for the model server at http://127.0.0.1:{port}" in (engine.failure or "")
    with ServerThread(_server(200), port=port):
        await _until(engine, EngineState.READY)
    await engine.close()
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "remote-readiness"]


async def test_a_request_that_finds_the_server_gone_turns_the_engine_waiting_at_once() -> None:
    port = free_port()
    # The periodic check waits a minute: only the failed request can have noticed.
    engine = RemoteEngine(
        f"http://127.0.0.1:{port}", "m", max_retries=0, readiness_delays=(0.05, 60.0)
    )
    with ServerThread(_server(200), port=port):
        await engine.start()
        assert _state(engine) is EngineState.READY
    with pytest.raises(ModelUnavailable):
        [piece async for piece in engine.stream(REQUEST)]
    assert _state(engine) is EngineState.FAILED
    assert "next try in 0.05 s" in (engine.failure or "")
    with pytest.raises(ModelUnavailable, match="waiting for the model server"):
        [piece async for piece in engine.stream(REQUEST)]  # refused at once, not sent
    with ServerThread(_server(200), port=port):
        await _until(engine, EngineState.READY)
    await engine.close()


async def test_closing_a_waiting_engine_leaves_no_task_behind() -> None:
    engine = RemoteEngine(f"http://127.0.0.1:{free_port()}", "m", readiness_delays=(0.05,))
    await engine.start()
    assert [t for t in asyncio.all_tasks() if t.get_name() == "remote-readiness"]
    await engine.close()
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "remote-readiness"]
    assert _state(engine) is EngineState.CLOSED


def _stalling_server() -> Starlette:
    """Streams one piece of an answer, then says nothing more (a stuck server)."""

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": "m", "object": "model"}]})

    async def completions(request: Request) -> StreamingResponse:
        # The chunk format: https://platform.openai.com/docs/api-reference/chat-streaming
        async def events() -> AsyncIterator[str]:
            chunk = {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": "first"}, "finish_reason": None}],
            }
            yield f"data: {json.dumps(chunk)}\n\n"
            await asyncio.sleep(30)

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/v1/chat/completions", completions, methods=["POST"]),
        ]
    )


async def test_the_answers_deadline_never_cancels_the_callers_own_work() -> None:
    request = GenerationRequest(messages=REQUEST.messages, generation_timeout=0.3)
    with ServerThread(_stalling_server()) as server:
        engine = RemoteEngine(server.url, "m", max_retries=0, readiness_delays=())
        await engine.start()
        pieces = engine.stream(request)
        assert await anext(pieces) == "first"
        # The caller is busy with the piece (posting it) when the deadline passes: its
        # own wait finishes, and the engine's next wait reports the timeout.
        await asyncio.sleep(0.6)
        with pytest.raises(GenerationTimeout):
            await anext(pieces)
        assert engine.queue_depth == 0
        await engine.close()


async def test_a_server_that_refuses_the_key_is_said_to_refuse_it_not_to_be_unreachable() -> None:
    async def models(request: Request) -> JSONResponse:
        body = {"error": {"message": "bad key", "type": "invalid_request_error", "code": 401}}
        return JSONResponse(body, status_code=401)

    app = Starlette(routes=[Route("/v1/models", models)])
    with ServerThread(app) as server:
        engine = RemoteEngine(server.url, "m", api_key="wrong", readiness_delays=())
        await engine.start()
        await engine.close()
    failure = engine.failure or ""
    assert _state(engine) is EngineState.CLOSED
    assert "not ready (last error HTTP 401, check ENGINE_API_KEY)" in failure, failure
    assert "unreachable" not in failure


async def test_a_greedy_request_asks_the_server_for_temperature_0() -> None:
    bodies: list[dict[str, object]] = []

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": "m", "object": "model"}]})

    async def completions(request: Request) -> StreamingResponse:
        bodies.append(json.loads(await request.body()))

        # https://platform.openai.com/docs/api-reference/chat-streaming
        async def events() -> AsyncIterator[str]:
            delta = {"index": 0, "delta": {"content": "ok"}, "finish_reason": None}
            chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
            yield f"data: {json.dumps(chunk | {'choices': [delta]})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    app = Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/v1/chat/completions", completions, methods=["POST"]),
        ]
    )
    with ServerThread(app) as server:
        engine = RemoteEngine(server.url, "m", max_retries=0, readiness_delays=())
        await engine.start()
        greedy = GenerationRequest(messages=REQUEST.messages, greedy=True)
        assert [piece async for piece in engine.stream(greedy)] == ["ok"]
        assert [piece async for piece in engine.stream(REQUEST)] == ["ok"]
        await engine.close()
    assert bodies[0]["temperature"] == 0.0 and "temperature" not in bodies[1]
