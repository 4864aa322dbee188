"""`supportbot doctor` as an operator runs it: each check against a real server.

The fake Slack answers `auth.test` as Slack does, Redis and clamd are private
real servers, the helpdesks' "who am I" endpoints check credentials as each
vendor documents, and the model is the tiny checkpoint on disk.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlers.slack.token_check import REQUIRED_SCOPES
from tests.support.fake_helpdesk import (
    INTERCOM_ADMIN,
    INTERCOM_TOKEN,
    JIRA_BOT_ACCOUNT,
    JIRA_EMAIL,
    JIRA_TOKEN,
    ZENDESK_BOT_USER,
    ZENDESK_EMAIL,
    ZENDESK_TOKEN,
    FakeHelpdesk,
)
from tests.support.fake_slack import FakeSlack
from tests.support.serve_process import clean_environment, supportbot_command
from tests.support.servers import ServerThread, free_port

pytestmark = pytest.mark.slow

BOT_TOKEN = "xoxb-doctor-test-0001"


@pytest.fixture(scope="module")
def vendors() -> Iterator[tuple[str, str]]:
    with (
        ServerThread(FakeSlack(bot_token=BOT_TOKEN).app) as slack,
        ServerThread(FakeHelpdesk().app) as helpdesk,
    ):
        yield slack.url, helpdesk.url


def _doctor(**variables: str) -> tuple[int, dict[str, tuple[str, str]], str]:
    result = subprocess.run(
        supportbot_command("doctor"),
        env=clean_environment(DEVICE="cpu", **variables),
        capture_output=True,
        text=True,
        timeout=180,
    )
    rows: dict[str, tuple[str, str]] = {}
    for line in result.stdout.splitlines():
        if line.strip().startswith("fix:"):
            continue
        name, status, found = line.split(maxsplit=2)
        rows[name] = (status, found)
    return result.returncode, rows, result.stdout


def _helpdesk_settings(url: str, *, right: bool) -> dict[str, str]:
    return {
        "ZENDESK_URL": url,
        "ZENDESK_EMAIL": ZENDESK_EMAIL,
        "ZENDESK_API_TOKEN": ZENDESK_TOKEN if right else "wrong",
        "INTERCOM_URL": url,
        "INTERCOM_TOKEN": INTERCOM_TOKEN if right else "wrong",
        "INTERCOM_ADMIN_ID": INTERCOM_ADMIN,
        "JIRA_URL": url,
        "JIRA_EMAIL": JIRA_EMAIL,
        "JIRA_API_TOKEN": JIRA_TOKEN if right else "wrong",
    }


def test_doctor_passes_when_everything_answers(
    vendors: tuple[str, str], redis_url: str, tiny_checkpoint: Path, clamd_address: str
) -> None:
    slack_url, helpdesk_url = vendors
    status, rows, output = _doctor(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="doctor-secret",
        SLACK_API_URL=f"{slack_url}/api/",
        REDIS_URL=redis_url,
        MODEL=str(tiny_checkpoint),
        CLAMD_ADDRESS=clamd_address,
        **_helpdesk_settings(helpdesk_url, right=True),
    )
    assert status == 0, output
    assert {name: row[0] for name, row in rows.items()} == {
        "settings": "ok",
        "slack": "ok",
        "redis": "ok",
        "device": "warn",  # a CPU: it works, slowly, and the doctor says so
        "model": "ok",
        "clamd": "ok",
        "zendesk": "ok",
        "intercom": "ok",
        "jira": "ok",
    }
    assert rows["slack"][1] == (
        f"token works (@supportbot in Acme), all {len(REQUIRED_SCOPES)} scopes"
    )
    assert rows["model"][1].startswith(f"found at {tiny_checkpoint}; weights ")
    assert rows["zendesk"][1] == f"signed in as user {ZENDESK_BOT_USER} (agent)"
    assert rows["jira"][1] == f"signed in as account {JIRA_BOT_ACCOUNT}"
    assert rows["intercom"][1] == "notes go as admin Support Bot"
    assert "ClamAV" in rows["clamd"][1]


def test_doctor_names_each_failure_and_its_fix(vendors: tuple[str, str], tmp_path: Path) -> None:
    slack_url, helpdesk_url = vendors
    dead_port = free_port()
    status, rows, output = _doctor(
        SLACK_BOT_TOKEN="xoxb-revoked",
        SLACK_API_URL=f"{slack_url}/api/",
        REDIS_URL=f"redis://127.0.0.1:{dead_port}/0",
        MODEL=str(tmp_path / "no-model"),
        CLAMD_ADDRESS=f"127.0.0.1:{dead_port}",
        **_helpdesk_settings(helpdesk_url, right=False),
    )
    assert status == 1
    assert {name: row[0] for name, row in rows.items() if row[0] == "FAIL"}.keys() == {
        "settings",  # no SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN
        "slack",
        "redis",
        "model",
        "clamd",
        "zendesk",
        "intercom",
        "jira",
    }
    assert rows["slack"][1] == "Slack refused the token: invalid_auth"
    assert rows["redis"][1].startswith(f"127.0.0.1:{dead_port} does not answer")
    assert rows["model"][1].startswith(f"MODEL={tmp_path / 'no-model'}: the directory")
    assert rows["jira"][1] == "credentials refused (401)"
    assert output.count("fix: ") >= 7


def test_doctor_prints_no_password_from_a_url(vendors: tuple[str, str]) -> None:
    """A remote engine and a Redis with `user:password@` in their URLs, both down."""
    slack_url, _ = vendors
    dead_port = free_port()
    status, rows, output = _doctor(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="doctor-secret",
        SLACK_API_URL=f"{slack_url}/api/",
        REDIS_URL=f"redis://:S3cretRedisPw@127.0.0.1:{dead_port}/0",
        ENGINE="remote",
        ENGINE_URL=f"http://svc:EngineUrlPw123@127.0.0.1:{dead_port}",
    )
    assert status == 1
    assert "S3cretRedisPw" not in output and "EngineUrlPw123" not in output
    assert rows["model"] == (
        "FAIL",
        f"remote engine at http://127.0.0.1:{dead_port} unreachable "
        "(last error APIConnectionError)",
    )
    assert rows["redis"][1].startswith(f"127.0.0.1:{dead_port} does not answer")


def test_doctor_names_a_slack_url_with_a_password_without_a_traceback() -> None:
    result = subprocess.run(
        supportbot_command("doctor"),
        env=clean_environment(
            DEVICE="cpu",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_API_URL="https://bot:SlackUrlPw9@slack.example/api/",
        ),
        capture_output=True,
        text=True,
        timeout=180,
    )
    shown = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in shown and "SlackUrlPw9" not in shown
    assert "SLACK_API_URL is invalid: must not carry user:password@" in shown


def test_doctor_names_the_scopes_an_older_install_lacks(tmp_path: Path) -> None:
    # The workspace installed the app before the manifest asked for these two.
    older = sorted(REQUIRED_SCOPES - {"groups:read", "usergroups:read"})
    slack = FakeSlack(bot_token=BOT_TOKEN, scopes=",".join(older))
    with ServerThread(slack.app) as server:
        _, rows, output = _doctor(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET="doctor-secret",
            SLACK_API_URL=f"{server.url}/api/",
            MODEL=str(tmp_path / "no-model"),
        )
    assert rows["slack"] == (
        "warn",
        "token works (@supportbot in Acme) but lacks groups:read, usergroups:read",
    )
    assert "fix: add groups:read, usergroups:read under OAuth & Permissions" in output
