"""A private clamd for the test session, with a one-signature database (EICAR).

The real virus database cannot be downloaded here, so the database holds a body
signature for the EICAR test file, which is what every antivirus test uses.
"""

from __future__ import annotations

import shutil
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
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=30)
