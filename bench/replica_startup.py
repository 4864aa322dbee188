"""Time to `/healthz`, CPU used by then and RSS of an `ENGINE=remote` replica.

Starts `supportbot serve` from the given environment's `bin/` (a slim venv made with
`pip install .`, or the full install) with the model server not up yet, three times,
and prints one row per start. Loopback only; each start is stopped after its row.

    python bench/replica_startup.py --bin /tmp/slim/bin --bin "$(dirname "$(which python)")"
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_once(bin_dir: Path, *, timeout: float = 60) -> tuple[float, float, float]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_", "ENGINE"))}
    env |= {
        "ENGINE": "remote",
        "ENGINE_URL": f"http://127.0.0.1:{_free_port()}",  # nothing listens there
        "SLACK_BOT_TOKEN": "xoxb-startup-bench",
        "SLACK_SIGNING_SECRET": "startup-bench",
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [str(bin_dir / "supportbot"), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"supportbot serve from {bin_dir} exited {process.returncode}")
            if time.monotonic() - started > timeout:
                raise SystemExit(f"no /healthz within {timeout} s")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.02)
        wall = time.monotonic() - started
        cpu = _cpu_seconds(process.pid)
        time.sleep(3)
        return wall, cpu, _rss_mib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", action="append", required=True, type=Path)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print("environment | start | time to /healthz (s) | CPU until then (s) | RSS (MiB)")
    for bin_dir in args.bin:
        for start in range(1, args.starts + 1):
            wall, cpu, rss = start_once(bin_dir)
            print(f"{bin_dir} | {start} | {wall:.2f} | {cpu:.2f} | {rss:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
