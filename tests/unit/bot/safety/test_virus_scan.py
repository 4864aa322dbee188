"""Scanning against a real clamd with an EICAR signature."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator

import pytest

from bot.errors import AttachmentRefused
from bot.messages import Message
from bot.safety.image_checks import ImageInspector
from bot.safety.virus_scan import ClamdScanner, ScannerUnavailable
from tests.support.clamd_server import (
    EICAR,
    clamd_executable,
    private_clamd_process,
    stuck_sends_to,
)
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


@pytest.fixture
def own_clamd() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A private clamd of this test's own, to freeze or kill."""
    if clamd_executable() is None:
        if os.environ.get("CI"):
            pytest.fail("clamd is not installed; .ci/run installs clamav-daemon")
        pytest.skip("clamd is not installed (apt-get install clamav-daemon)")
    with private_clamd_process() as running:
        yield running


async def test_clamd_dying_mid_scan_refuses_the_file_and_keeps_the_bot_up(
    own_clamd: tuple[str, subprocess.Popen[bytes]],
) -> None:
    address, process = own_clamd
    port = int(address.rpartition(":")[2])
    process.send_signal(signal.SIGSTOP)  # it takes the connection but reads nothing more
    scanner = ClamdScanner(address, timeout=120)
    # Bigger than the socket buffers: the scan is stuck sending when clamd dies.
    scan = asyncio.create_task(scanner.scan(b"\x89PNG\r\n\x1a\n" + bytes(16 * 1024 * 1024)))
    while not stuck_sends_to(port):
        assert not scan.done(), "the scan must still be in flight"
        await asyncio.sleep(0.05)
    process.kill()
    process.wait(timeout=30)
    with pytest.raises(ScannerUnavailable) as unavailable:
        await scan
    assert "Timeout" not in str(unavailable.value), "it failed on the death, not a timeout"
    inspector = ImageInspector(scanner=scanner)
    with pytest.raises(AttachmentRefused) as refused:
        await inspector.inspect("err.png", render_error_screenshot())
    assert refused.value.reason is Message.REASON_SCAN_UNAVAILABLE


async def test_clamd_that_stops_answering_times_out_and_the_file_is_refused(
    own_clamd: tuple[str, subprocess.Popen[bytes]],
) -> None:
    address, process = own_clamd
    process.send_signal(signal.SIGSTOP)
    scanner = ClamdScanner(address, timeout=1)
    with pytest.raises(ScannerUnavailable) as unavailable:
        await scanner.scan(render_error_screenshot())
    assert "TimeoutError" in str(unavailable.value)
    with pytest.raises(AttachmentRefused) as refused:
        await ImageInspector(scanner=scanner).inspect("err.png", render_error_screenshot())
    assert refused.value.reason is Message.REASON_SCAN_UNAVAILABLE
    process.send_signal(signal.SIGCONT)  # back again: scans work without a restart
    assert (await ClamdScanner(address, timeout=60).scan(render_error_screenshot())).clean
