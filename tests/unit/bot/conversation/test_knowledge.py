"""Retrieval of past resolutions, measured on held-out synthetic cases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.conversation.knowledge import KnowledgeBase, Resolution
from bot.stores.knowledge import InMemoryKnowledgeBase, RedisKnowledgeBase

CASES = [
    (
        "ModuleNotFoundError: No module named 'requests' when running app.py",
        "The virtualenv was not activated; `source .venv/bin/activate` then pip install -r requirements.txt",
    ),
    (
        "psycopg2.OperationalError: could not connect to server: Connection refused port 5432",
        "Postgres was down after the host reboot; enabled the service with systemctl enable postgresql",
    ),
    (
        "npm ERR! code EACCES permission denied mkdir /usr/lib/node_modules",
        "Set an npm prefix in the home directory instead of installing globally with sudo",
    ),
    (
        "docker: Error response from daemon: port is already allocated 0.0.0.0:8080",
        "An old container still held port 8080; docker rm -f the stale container",
    ),
    (
        "SSL: CERTIFICATE_VERIFY_FAILED certificate verify failed: unable to get local issuer",
        "The corporate proxy re-signs TLS; installed the company CA bundle and set REQUESTS_CA_BUNDLE",
    ),
    (
        "java.lang.OutOfMemoryError: Java heap space in the nightly export job",
        "Raised -Xmx to 4g for the export job and paged the report query",
    ),
    (
        "fatal: refusing to merge unrelated histories on git pull",
        "Used git pull --allow-unrelated-histories once after the repository was re-created",
    ),
    (
        "kubectl: Error from server (Forbidden): pods is forbidden: User cannot list resource",
        "Granted the service account a RoleBinding for pods in the namespace",
    ),
    (
        "数据库连接超时 Timeout connecting to MySQL 3306 登录失败",
        "MySQL 最大连接数已满，调整 max_connections 并重启连接池",
    ),
    (
        "ERR_CONNECTION_RESET when uploading files larger than 10 MB through nginx",
        "nginx client_max_body_size was 10m; raised it to 100m and reloaded nginx",
    ),
]

HELD_OUT = [
    ("still getting No module named requests after deploying", 0),
    ("OperationalError connection refused to postgres on 5432 again", 1),
    ("EACCES when I npm install -g something", 2),
    ("Bind for 0.0.0.0:8080 failed: port is already allocated", 3),
    ("CERTIFICATE_VERIFY_FAILED from python requests behind the proxy", 4),
    ("OutOfMemoryError Java heap space during export", 5),
    ("git says refusing to merge unrelated histories", 6),
    ("pods is forbidden for my service account in kubectl", 7),
    ("MySQL 连接超时，登录失败怎么办", 8),
    ("upload fails with ERR_CONNECTION_RESET for big files", 9),
]


@pytest.fixture(params=["memory", "redis"])
async def knowledge(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str
) -> AsyncIterator[KnowledgeBase]:
    if request.param == "memory":
        base: KnowledgeBase = InMemoryKnowledgeBase()
        client = None
    else:
        client = Redis.from_url(redis_url)
        base = RedisKnowledgeBase(client, prefix=redis_prefix)
    for index, (error, fix) in enumerate(CASES):
        await base.add(Resolution(error, "diagnosis text", fix, "UAGENT", f"T1:C1:{index}"))
    yield base
    if client is not None:
        await client.delete(f"{redis_prefix}:knowledge")
        await client.aclose()


async def test_the_right_past_case_is_retrieved_first_for_every_held_out_question(
    knowledge: KnowledgeBase,
) -> None:
    hits = 0
    for question, expected in HELD_OUT:
        found = await knowledge.similar(question)
        assert found, f"nothing found for {question!r}"
        hits += found[0].thread == f"T1:C1:{expected}"
    assert hits == len(HELD_OUT), f"top-1 accuracy {hits}/{len(HELD_OUT)}"


async def test_an_unrelated_question_retrieves_nothing(knowledge: KnowledgeBase) -> None:
    assert await knowledge.similar("how do I change my profile picture") == []
