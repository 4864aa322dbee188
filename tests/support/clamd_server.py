"""A private clamd for the test session, with a one-signature database (EICAR).

The real virus database cannot be downloaded here, so the database holds a body
signature for the EICAR test file, which is what every antivirus test uses.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import free_port

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def clamd_executable() -> str | None:
    return shutil.which("clamd") or (
        "/usr/sbin/clamd" if Path("/usr/sbin/clamd").exists() else None
    )


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"zPING\0")
            return connection.recv(16).startswith(b"PONG")
    except OSError:
        return False


@contextmanager
def private_clamd() -> Iterator[str]:
    """Start clamd on a free port and yield its `host:port`."""
    with private_clamd_process() as (address, _):
        yield address


@contextmanager
def private_clamd_process() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start clamd on a free port; yield its `host:port` and its process (to stop or kill)."""
    executable = clamd_executable()
    if executable is None:
        raise RuntimeError("clamd is not installed (apt-get install clamav-daemon)")
    with tempfile.TemporaryDirectory(prefix="clamd-") as directory:
        root = Path(directory)
        (root / "db").mkdir()
        (root / "db" / "eicar.ndb").write_text(f"Eicar-Test-Signature:0:*:{EICAR[:40].hex()}\n")
        port = free_port()
        (root / "clamd.conf").write_text(
            "Foreground yes\n"
            f"DatabaseDirectory {root / 'db'}\n"
            f"TCPSocket {port}\nTCPAddr 127.0.0.1\n"
            f"LogFile {root / 'clamd.log'}\nPidFile {root / 'clamd.pid'}\n"
        )
        process = subprocess.Popen(
            [executable, "-c", str(root / "clamd.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not _answers_ping(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the private clamd did not start")
                time.sleep(0.2)
            yield f"127.0.0.1:{port}", process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)  # a test may have frozen it
                process.terminate()
            process.wait(timeout=30)


def stuck_sends_to(port: int) -> int:
    """Connections to 127.0.0.1:`port` with bytes sent but not yet read by the other end.

    From the kernel's own table (/proc/net/tcp): a scan whose data is in flight.
    """
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state, queues = fields[2], fields[3], fields[4]
        if int(remote.split(":")[1], 16) == port and state == "01":
            count += int(queues.split(":")[0], 16) > 0
    return count
