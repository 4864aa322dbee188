"""Embeddings from a model server's `/v1/embeddings` over real HTTP: the documented request
rules kept (batches, no empty strings), vectors in input order, errors in the bot's tree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from bot.app.knowledge import build_embedder
from bot.engine.remote_embeddings import MAX_INPUTS_PER_REQUEST, RemoteEmbedder
from bot.errors import ConfigError, EngineBusy, GenerationFailed, ModelUnavailable
from bot.knowledge.chunking import Chunk
from bot.knowledge.index import KnowledgeIndex, Mode
from bot.knowledge.sources.base import DocumentRef, Visibility
from bot.settings import Settings
from tests.support.fake_embeddings_server import MAX_INPUTS, FakeEmbeddings, vector_of
from tests.support.servers import ServerThread, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def fake() -> FakeEmbeddings:
    return FakeEmbeddings()


@pytest.fixture
def server(fake: FakeEmbeddings) -> Iterator[str]:
    with ServerThread(fake.app()) as running:
        yield running.url


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"input": "x"}, 400),
        ({"model": "embed-small", "input": []}, 400),
        ({"model": "embed-small", "input": ["a", ""]}, 400),
        ({"model": "embed-small", "input": ["a"] * (MAX_INPUTS + 1)}, 400),
        ({"model": "no-such-model", "input": "a"}, 404),
        ({"model": "embed-small", "input": ["a"] * MAX_INPUTS}, 200),
    ],
)
def test_the_fake_refuses_what_the_api_refuses(server: str, body: object, status: int) -> None:
    answer = httpx.post(f"{server}/v1/embeddings", json=body, timeout=30)
    assert answer.status_code == status
    if status != 200:
        assert set(answer.json()["error"]) >= {"message", "type"}


def test_vectors_come_back_unit_length_in_input_order(server: str, fake: FakeEmbeddings) -> None:
    embedder = RemoteEmbedder(server, "embed-small", max_retries=0)
    texts = ["vault token expired", "certificate date invalid", "vault token expired"]
    vectors = embedder.embed_passages(texts)
    assert vectors.shape == (3, 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    expected = np.asarray(vector_of(texts[1]), dtype=np.float32)
    assert np.allclose(vectors[1], expected / np.linalg.norm(expected), atol=1e-6)
    assert np.allclose(vectors[0], vectors[2]) and not np.allclose(vectors[0], vectors[1])
    assert embedder.name == "remote:embed-small"


def test_many_passages_go_in_batches_the_server_accepts(server: str, fake: FakeEmbeddings) -> None:
    texts = [f"runbook passage {n}" for n in range(MAX_INPUTS_PER_REQUEST + 60)]
    largest = RemoteEmbedder(server, "embed-small", batch_size=MAX_INPUTS_PER_REQUEST)
    assert largest.embed_passages(texts).shape == (len(texts), 64)
    assert fake.batches == [MAX_INPUTS_PER_REQUEST, 60]
    fake.batches.clear()
    RemoteEmbedder(server, "embed-small").embed_passages(texts[:300])
    assert fake.batches == [128, 128, 44]
    with pytest.raises(ValueError, match="batch_size"):
        RemoteEmbedder(server, "embed-small", batch_size=MAX_INPUTS_PER_REQUEST + 1)


def test_blank_texts_are_not_sent_and_match_nothing(server: str, fake: FakeEmbeddings) -> None:
    embedder = RemoteEmbedder(server, "embed-small", max_retries=0)
    query = embedder.embed_query("   ")  # first call: the width is learnt once
    assert query.shape == (64,) and not query.any()
    vectors = embedder.embed_passages(["", "pool exhausted", "\n"])
    assert not vectors[0].any() and not vectors[2].any() and vectors[1].any()
    assert "" not in fake.seen and "\n" not in fake.seen and "pool exhausted" in fake.seen


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (429, {"retry-after": "7"}, EngineBusy),
        (503, {"retry-after": "3"}, EngineBusy),
        (500, {}, GenerationFailed),
        (400, {}, GenerationFailed),
    ],
)
def test_a_refused_request_becomes_the_bots_own_error(
    server: str,
    fake: FakeEmbeddings,
    status: int,
    headers: dict[str, str],
    expected: type[Exception],
) -> None:
    fake.failures.append((status, headers))
    embedder = RemoteEmbedder(server, "embed-small", max_retries=0)
    with pytest.raises(expected) as raised:
        embedder.embed_query("vault token expired")
    if isinstance(raised.value, EngineBusy):
        assert raised.value.retry_after == int(headers["retry-after"])


def test_a_wrong_key_an_unknown_model_and_no_server_are_model_unavailable(
    server: str, fake: FakeEmbeddings
) -> None:
    fake.api_key = "k-right"
    with pytest.raises(ModelUnavailable, match="key"):
        RemoteEmbedder(server, "embed-small", api_key="k-wrong").embed_query("x")
    right = RemoteEmbedder(server, "embed-small", api_key="k-right")
    assert right.embed_query("x").any()
    with pytest.raises(ModelUnavailable, match="does not serve"):
        RemoteEmbedder(server, "other", api_key="k-right").embed_query("x")
    gone = RemoteEmbedder(f"http://127.0.0.1:{free_port()}", "embed-small", max_retries=0)
    with pytest.raises(ModelUnavailable, match="unreachable"):
        gone.embed_query("x")


def test_the_index_searches_by_meaning_with_remote_vectors(server: str, tmp_path: Path) -> None:
    index = KnowledgeIndex(tmp_path / "k.db", embedder=RemoteEmbedder(server, "embed-small"))
    for doc_id, title, text in [
        ("vault.md", "Vault", "renew the vault token with acme-vault renew"),
        ("tls.md", "TLS", "the certificate expired, renew it with certbot"),
    ]:
        ref = DocumentRef("runbooks", doc_id, title, None, None, Visibility.everyone())
        with index.writer() as writer:
            writer.put(ref, digest=doc_id, chunks=[Chunk("", text)])
    [best, *_] = index.search("certificate expired certbot", channel="C1", mode=Mode.DENSE)
    assert best.document == "tls.md"
    index.close()


def test_the_setting_names_a_remote_embedding_model(server: str) -> None:
    settings = Settings(
        _env_file=None, embedding_model="remote:embed-small", engine="remote", engine_url=server
    )
    embedder = build_embedder(settings)
    assert isinstance(embedder, RemoteEmbedder) and embedder.name == "remote:embed-small"
    with pytest.raises(ConfigError, match="ENGINE_URL"):
        build_embedder(Settings(_env_file=None, embedding_model="remote:embed-small"))
    with pytest.raises(ConfigError, match="name"):
        build_embedder(Settings(_env_file=None, embedding_model="remote:", engine_url=server))
