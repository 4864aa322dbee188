from __future__ import annotations

from bot.app.doctor import Status, check_helpdesks
from bot.settings import Settings


async def test_doctor_warns_when_a_webhook_is_on_but_notes_cannot_be_posted() -> None:
    settings = Settings(_env_file=None, zendesk_webhook_secret="zd", zendesk_url="https://z.test")
    [row] = await check_helpdesks(settings)
    assert (row.name, row.status) == ("zendesk-webhook", Status.WARN)
    assert "notes cannot be posted" in row.found
    assert row.fix == "set ZENDESK_EMAIL, ZENDESK_API_TOKEN"


async def test_doctor_is_quiet_about_helpdesks_nobody_turned_on() -> None:
    [row] = await check_helpdesks(Settings(_env_file=None))
    assert (row.name, row.status) == ("helpdesks", Status.OFF)
