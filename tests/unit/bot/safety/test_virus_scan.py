"""Scanning against a real clamd with an EICAR signature."""

from __future__ import annotations

import pytest

from bot.errors import AttachmentRefused
from bot.messages import Message
from bot.safety.image_checks import ImageInspector
from bot.safety.virus_scan import ClamdScanner, ScannerUnavailable
from tests.support.clamd_server import EICAR
from tests.support.screenshots import render_error_screenshot
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


async def test_clean_file_passes_and_eicar_is_found(clamd_address: str) -> None:
    scanner = ClamdScanner(clamd_address)
    assert (await scanner.scan(render_error_screenshot())).clean
    infected = await scanner.scan(b"\x89PNG\r\n\x1a\n" + EICAR)
    assert not infected.clean
    assert infected.signature and "Eicar" in infected.signature


async def test_infected_file_is_refused_before_it_is_decoded(clamd_address: str) -> None:
    inspector = ImageInspector(scanner=ClamdScanner(clamd_address))
    with pytest.raises(AttachmentRefused) as refused:
        await inspector.inspect("err.png", b"\x89PNG\r\n\x1a\n" + EICAR)
    assert refused.value.reason is Message.REASON_INFECTED
    assert (await inspector.inspect("ok.png", render_error_screenshot())).width == 640


async def test_scanner_down_fails_closed_by_default_and_open_when_configured() -> None:
    down = ClamdScanner(f"127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(ScannerUnavailable):
        await down.scan(b"x")
    with pytest.raises(AttachmentRefused) as refused:
        await ImageInspector(scanner=down).inspect("err.png", render_error_screenshot())
    assert refused.value.reason is Message.REASON_SCAN_UNAVAILABLE
    opened = await ImageInspector(scanner=down, fail_open=True).inspect(
        "err.png", render_error_screenshot()
    )
    assert opened.width == 640
