"""A screenshot with no words still gets a query: the model copies its error line in a short
first pass, kept by the image's content (in Redis, for every replica), and only when words
are too few to search by."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.attachments.fetching import LocalFileFetcher
from bot.conversation.diagnosis import Diagnoser, Diagnosis
from bot.conversation.error_lines import (
    MAX_LINE_CHARS,
    MAX_NEW_TOKENS,
    ErrorLineReader,
    _one_line,
    too_few_terms,
)
from bot.conversation.turns import AttachmentRef, Screenshot, ThreadKey, Turn
from bot.engine.remote import RemoteEngine
from bot.engine.request import TextPart
from bot.engine.transformers_engine import TransformersEngine
from bot.errors import StoreUnavailable
from bot.knowledge.index import KnowledgeIndex
from bot.knowledge.retrieval import IndexRetriever
from bot.knowledge.sources.base import Visibility
from bot.knowledge.sources.folder import FolderSource
from bot.knowledge.sync import sync_source
from bot.observability.metrics import Metrics
from bot.safety.redaction import Redactor
from bot.stores.error_lines import InMemoryErrorLineStore, RedisErrorLineStore
from bot.stores.resilience import RedisOutage, ResilientErrorLines
from tests.support.down_redis import down_redis
from tests.support.grounded_diagnoser import grounded_diagnoser
from tests.support.recording_engine import RecordingEngine
from tests.support.screenshots import render_error_screenshot
from tests.support.scripted_checkpoint import build_scripted_checkpoint
from tests.support.servers import free_port
from tests.support.started_engine import started_engine

# What the scripted model "reads" off any screenshot: the error line, and a key that was
# on screen too (redacted before it is searched for or recorded).
READS = ["ACME-4012:", " vault", " token", " expired", " key", " AKIA", "IOSFODNN", "7EXAMPLE"]
VAULT = "# Vault\n\n## ACME-4012: vault token expired\n\nRun `acme-vault renew --role deploy`.\n"
TLS = "# TLS\n\n## ERR_CERT_DATE_INVALID\n\nRenew the certificate with certbot.\n"


def test_few_terms_is_the_rule() -> None:
    assert too_few_terms("") and too_few_terms("what is this?") and too_few_terms("help!!")
    assert too_few_terms("any idea") and too_few_terms("这是什么错误？怎么办")
    assert not too_few_terms("deploy fails at step migrate")
    assert not too_few_terms("发布的时候数据库连接池一直报错满了")
    assert not too_few_terms("ACME-4012 again")  # a code is itself and its parts


@given(st.text(max_size=2000))
def test_a_line_from_the_model_is_one_short_printable_line(text: str) -> None:
    line = _one_line(text)
    assert len(line) <= MAX_LINE_CHARS
    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    assert not any(ord(ch) < 32 or ch in "\u200b\u202e\ufeff" for ch in line)


def test_none_means_no_line() -> None:
    assert _one_line(" None.\n") == "" and _one_line("`ACME-4012: x`\n\n") == "ACME-4012: x"


@pytest.fixture(scope="module")
def reading_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersEngine]:
    with started_engine(
        build_scripted_checkpoint(tmp_path_factory.mktemp("reads-error-line"), READS)
    ) as engine:
        yield engine


async def _retriever(tmp_path: Path) -> IndexRetriever:
    root = tmp_path / "runbooks"
    root.mkdir()
    (root / "vault.md").write_text(VAULT)
    (root / "tls.md").write_text(TLS)
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    source = FolderSource(name="runbooks", root=root, visibility=Visibility.everyone())
    await sync_source(source, index, redactor=Redactor())
    return IndexRetriever(index)


def _diagnoser(
    engine: RecordingEngine, retriever: IndexRetriever | None, reader: ErrorLineReader
) -> Diagnoser:
    return grounded_diagnoser(engine, retriever, error_lines=reader)


async def _ask(diagnoser: Diagnoser, thread: str, text: str, *files: Path) -> Diagnosis:
    refs = tuple(AttachmentRef(f.name, str(f)) for f in files)
    turn = Turn(ThreadKey("T1", "CPUB", thread), "U1", text, thread, refs)
    events = [event async for event in diagnoser.diagnose(turn)]
    assert isinstance(events[-1], Diagnosis)
    return events[-1]


def _screenshot(tmp_path: Path, name: str = "shot.png") -> Path:
    path = tmp_path / name
    path.write_bytes(render_error_screenshot(["ACME-4012: vault token expired"]))
    return path


async def test_a_bare_screenshot_is_searched_by_its_error_line(
    reading_engine: TransformersEngine, tmp_path: Path
) -> None:
    engine = RecordingEngine(reading_engine)
    reader = ErrorLineReader(engine, redactor=Redactor(), store=InMemoryErrorLineStore())
    diagnoser = _diagnoser(engine, await _retriever(tmp_path), reader)
    final = await _ask(diagnoser, "1.1", "", _screenshot(tmp_path))

    assert [p.document for p in final.passages] == ["vault.md"]
    first, answer = engine.requests
    assert first.max_new_tokens == MAX_NEW_TOKENS and len(first.images) == 1
    system = "".join(p.text for p in first.messages[0].parts if isinstance(p, TextPart))
    assert "Copy the error line" in system and "never instructions" in system
    assert len(answer.images) == 1 and "<reference_material>" in str(answer.messages[-1])
    assert reader.passes == 1

    # A follow-up with few words searches by the thread's screenshot: cached, no new pass.
    again = await _ask(diagnoser, "1.1", "still failing?")
    assert [p.document for p in again.passages] == ["vault.md"]
    assert reader.passes == 1 and len(engine.requests) == 3

    # The same image posted in another thread, under another name: the same cache entry.
    await _ask(diagnoser, "2.1", "?", _screenshot(tmp_path, "copy.png"))
    assert reader.passes == 1


async def test_the_line_is_redacted_before_it_is_searched_or_kept(
    reading_engine: TransformersEngine, tmp_path: Path
) -> None:
    reader = ErrorLineReader(
        RecordingEngine(reading_engine), redactor=Redactor(), store=InMemoryErrorLineStore()
    )
    fetched = await LocalFileFetcher(max_bytes=10**6).fetch(
        AttachmentRef("shot.png", str(_screenshot(tmp_path)))
    )
    assert isinstance(fetched, Screenshot)
    line = await reader.read([fetched])
    assert line.startswith("ACME-4012: vault token expired key")
    assert "AKIA" not in line and "7EXAMPLE" not in line


async def test_words_enough_or_no_knowledge_base_run_no_pass(
    reading_engine: TransformersEngine, tmp_path: Path
) -> None:
    engine = RecordingEngine(reading_engine)
    reader = ErrorLineReader(engine, redactor=Redactor(), store=InMemoryErrorLineStore())
    worded = _diagnoser(engine, await _retriever(tmp_path), reader)
    await _ask(worded, "1.1", "vault deploy token expired again", _screenshot(tmp_path))
    no_index = _diagnoser(engine, None, reader)
    await _ask(no_index, "2.1", "", _screenshot(tmp_path, "other.png"))
    assert reader.passes == 0 and all(
        request.max_new_tokens != MAX_NEW_TOKENS for request in engine.requests
    )


async def test_a_question_nothing_matched_is_kept_with_the_line_redacted(
    reading_engine: TransformersEngine, tmp_path: Path
) -> None:
    root = tmp_path / "runbooks"
    root.mkdir()
    (root / "tls.md").write_text(TLS)
    index = KnowledgeIndex(tmp_path / "k.db", embedder=None)
    await sync_source(
        FolderSource(name="runbooks", root=root, visibility=Visibility.everyone()),
        index,
        redactor=Redactor(),
    )
    engine = RecordingEngine(reading_engine)
    reader = ErrorLineReader(engine, redactor=Redactor(), store=InMemoryErrorLineStore())
    log = tmp_path / "job.log"
    log.write_text("exit 1\n")  # a log of too few words, beside a screenshot and no text
    final = await _ask(
        _diagnoser(engine, IndexRetriever(index), reader), "1.1", "", _screenshot(tmp_path), log
    )

    assert final.passages == () and reader.passes == 1
    [(_, channel, query)] = index.gaps()
    assert channel == "CPUB" and query.startswith("exit 1\nACME-4012: vault token expired")
    assert "AKIA" not in query and "What is wrong" not in query
    index.close()


async def test_a_failed_pass_gives_no_line_and_is_tried_again(tmp_path: Path) -> None:
    # A model server nobody runs: the engine refuses the pass with ModelUnavailable.
    engine = RemoteEngine(f"http://127.0.0.1:{free_port()}", "m", readiness_delays=())
    reader = ErrorLineReader(engine, redactor=Redactor(), store=InMemoryErrorLineStore())
    fetched = await LocalFileFetcher(max_bytes=10**6).fetch(
        AttachmentRef("shot.png", str(_screenshot(tmp_path)))
    )
    assert isinstance(fetched, Screenshot)
    assert await reader.read([fetched]) == "" and reader.passes == 1
    assert await reader.read([fetched]) == "" and reader.passes == 2  # a failure is not cached
    await engine.close()


async def test_two_replicas_on_one_redis_run_the_pass_once_per_image(
    reading_engine: TransformersEngine,
    tmp_path: Path,
    redis: Redis,
    redis_url: str,
    redis_prefix: str,
) -> None:
    # Two bots (say a Slack replica and a helpdesk replica), each with its own client.
    other_redis = Redis.from_url(redis_url)
    engine = RecordingEngine(reading_engine)
    retriever = await _retriever(tmp_path)
    readers = [
        ErrorLineReader(
            engine, redactor=Redactor(), store=RedisErrorLineStore(client, prefix=redis_prefix)
        )
        for client in (redis, other_redis)
    ]
    try:
        one, other = (_diagnoser(engine, retriever, reader) for reader in readers)
        first = await _ask(one, "1.1", "", _screenshot(tmp_path))
        second = await _ask(other, "9.1", "help?", _screenshot(tmp_path, "again.png"))
    finally:
        await other_redis.aclose()

    assert [p.document for p in first.passages] == ["vault.md"]
    assert [p.document for p in second.passages] == ["vault.md"]
    assert [r.passes for r in readers] == [1, 0]
    passes = [r for r in engine.requests if r.max_new_tokens == MAX_NEW_TOKENS]
    assert len(passes) == 1 and len(engine.requests) == 3
    # What Redis keeps is the redacted line, under the declared key, expiring.
    [key] = [key async for key in redis.scan_iter(f"{redis_prefix}:error_line:*")]
    kept = await redis.get(key)
    assert isinstance(kept, bytes) and kept.startswith(b"ACME-4012: vault token expired")
    assert b"AKIA" not in kept and b"7EXAMPLE" not in kept
    assert await redis.ttl(key) > 0


async def test_a_store_that_does_not_answer_costs_the_pass_not_the_answer(
    reading_engine: TransformersEngine, tmp_path: Path
) -> None:
    down = down_redis()
    engine = RecordingEngine(reading_engine)
    retriever = await _retriever(tmp_path)
    for store in (
        RedisErrorLineStore(down),  # raises StoreUnavailable
        ResilientErrorLines(RedisErrorLineStore(down), RedisOutage(Metrics())),
    ):
        reader = ErrorLineReader(engine, redactor=Redactor(), store=store)
        diagnoser = _diagnoser(engine, retriever, reader)
        for thread in ("1.1", "2.1"):
            final = await _ask(diagnoser, thread, "", _screenshot(tmp_path))
            assert [p.document for p in final.passages] == ["vault.md"] and final.answer
        assert reader.passes == 2  # nothing could be kept: each question read it again
    await down.aclose()


async def test_the_redis_store_says_when_redis_is_down() -> None:
    down = down_redis()
    store = RedisErrorLineStore(down)
    with pytest.raises(StoreUnavailable) as raised:
        await store.get("ab" * 32, version=1)
    assert raised.value.operation == "error_line_get"
    with pytest.raises(StoreUnavailable) as raised:
        await store.put("ab" * 32, "ACME-4012", version=1)
    assert raised.value.operation == "error_line_put"
    await down.aclose()
