"""A fifth helpdesk, added as docs/architecture.md says: its own package (tests/support/
freshdesk, its settings included) and one entry in the registry. Its webhook is then answered
by the real routes, runner and job view, its setting is read from the environment as the
shipped vendors' are, and no other file knows its name."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.engine.transformers_engine import TransformersEngine
from bot.settings import Settings
from handlers.helpdesks.registry import HELPDESKS, Registry
from tests.support.freshdesk import Freshdesk
from tests.support.running_bot import RunningBot, run_bot
from tests.support.webhook_deliveries import READ_TOKEN, wait_ended

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "freshdesk-shared-token"
SERVED = Registry((*HELPDESKS, Freshdesk()))  # the one line a vendor adds


@pytest.fixture(scope="module")
def bot(tiny_engine: TransformersEngine, redis_url: str) -> Iterator[RunningBot]:
    with run_bot(
        tiny_engine,
        redis_url,
        helpdesks=SERVED,
        jobs_read_token=READ_TOKEN,
        freshdesk_webhook_secret=TOKEN,
    ) as bot:
        yield bot


def _body(ticket: str) -> bytes:
    body = {"freshdesk_webhook": {"ticket_id": ticket, "ticket_description": "Error 42 on save"}}
    return json.dumps(body).encode()


def _deliver(bot: RunningBot, ticket: str, token: str = TOKEN) -> httpx.Response:
    headers = SERVED.sign("freshdesk", token, b"") | {"Content-Type": "application/json"}
    return httpx.post(
        f"{bot.url}/webhooks/freshdesk", content=_body(ticket), headers=headers, timeout=10
    )


def test_a_registered_vendor_is_answered_through_the_real_routes(bot: RunningBot) -> None:
    response = _deliver(bot, "4101")
    assert response.status_code == 202, response.text
    # Its job id is made from its route's name as every vendor's is (replays map to it).
    job_id = hashlib.sha256(b"freshdesk:" + _body("4101")).hexdigest()[:24]
    assert response.json()["job"] == job_id
    view = wait_ended(bot, job_id)
    assert view["state"] == "done" and view["result"]
    assert view["provider"] == "freshdesk" and view["ticket"] == "4101"
    assert view["note_posted"] is False  # a helpdesk with no API takes no note


def test_its_token_only_route_refuses_a_wrong_token_and_reads_no_job(bot: RunningBot) -> None:
    assert _deliver(bot, "4102", token="wrong").status_code == 401
    job = _deliver(bot, "4103").json()["job"]
    # The token travels with every delivery, so it is not a key to the job's answer.
    as_token = httpx.get(f"{bot.url}/jobs/{job}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert as_token.status_code == 401


def test_a_ticket_id_out_of_its_format_is_refused(bot: RunningBot) -> None:
    assert _deliver(bot, "../../agents/me").status_code == 400


def test_its_setting_is_read_from_the_environment_by_its_own_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRESHDESK_WEBHOOK_SECRET", "from-the-environment")
    desks, problems = SERVED.read_settings()
    assert problems == [] and desks is not None
    assert SERVED.webhook_secrets(desks)["freshdesk"] == "from-the-environment"
    # The shared settings do not know it: the vendor's package is the one place it is declared.
    assert "freshdesk_webhook_secret" not in Settings.model_fields
    assert "freshdesk_webhook_secret" in SERVED.setting_fields


def test_the_vendor_is_named_nowhere_outside_its_package() -> None:
    shipped = [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/**/*.py")]
    assert not [path for path in shipped if "freshdesk" in path.read_text().lower()]
