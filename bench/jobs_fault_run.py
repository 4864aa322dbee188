"""Helpdesk jobs through two replicas, one killed mid-job: loopback only, bounded in count and time.

Starts a private redis-server, the fake helpdesk (Zendesk) with its separate file
host, a tiny Qwen3-VL checkpoint and two `supportbot serve` processes on the one
Redis. Sends N signed Zendesk trigger deliveries, each a ticket with a
screenshot, to the two replicas in turn at a set rate (a tenth delivered twice
with the same invocation id, as Zendesk redelivers); answers two note posts with
429 (Retry-After 1 s) and two with 500; and a third of the way in kills with
SIGKILL the first replica while it holds a job. Then it counts the notes.

    python bench/jobs_fault_run.py --tickets 30 --rate 2 --lease 5

Prints jobs done, duplicates (tickets with more than one note), lost (tickets
with none, or whose job did not end as done), and the time from the kill to the
survivor holding each job the dead replica held.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handlers.helpdesks.registry import REGISTRY
from tests.support.fake_attachment_host import FakeAttachmentHost
from tests.support.fake_helpdesk import FakeHelpdesk
from tests.support.fake_slack import FakeSlack
from tests.support.redis_server import RedisServer
from tests.support.screenshots import render_error_screenshot
from tests.support.serve_process import wait_until_ready
from tests.support.servers import ServerThread, free_port
from tests.support.tiny_checkpoint import build_tiny_checkpoint
from tests.support.webhook_deliveries import READ_TOKEN, SECRETS

GROUP = "runners"
SLACK_TOKEN = "xoxb-jobs-fault-0001"


def _replica(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve"],
            env=env | {"PORT": str(port), "HOST": "127.0.0.1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process)
    except AssertionError as error:
        raise RuntimeError(f"a replica did not start: {log.read_text()[-3000:]}") from error
    return process, url


def _deliver(client: httpx.Client, url: str, body: dict[str, Any], delivery: str) -> str:
    raw = json.dumps(body).encode()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    headers = REGISTRY.sign("zendesk", SECRETS["zendesk"], raw, stamp) | {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Invocation-Id": delivery,
    }
    response = client.post(f"{url}/webhooks/zendesk", content=raw, headers=headers)
    if response.status_code not in {200, 202}:
        raise RuntimeError(f"delivery {delivery}: HTTP {response.status_code} {response.text}")
    return str(response.json()["job"])


def _pending(client: redis.Redis, stream: str) -> dict[str, str]:
    """Entry id -> consumer, for every job held now."""
    entries = client.xpending_range(stream, GROUP, "-", "+", 1000)
    return {_text(e["message_id"]): _text(e["consumer"]) for e in entries}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _consumer_pid(consumer: str) -> int:
    return int(consumer.split("-")[-2])


def run(tickets: int, rate: float, lease: float, settle_seconds: float) -> int:
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        checkpoint = build_tiny_checkpoint(work / "tiny")
        redis_server = RedisServer()
        redis_server.start()
        files = FakeAttachmentHost()
        fake = FakeHelpdesk(files)
        shot = render_error_screenshot()
        prefix = f"jobs-fault-{os.getpid()}"
        stream = f"{prefix}:jobs:stream"
        slack = FakeSlack(bot_token=SLACK_TOKEN)  # the bot checks its Slack token at start
        with (
            ServerThread(slack.app) as slack_server,
            ServerThread(files.app, host="127.0.0.2") as file_server,
            ServerThread(fake.app) as api,
        ):
            files.url, fake.url = file_server.url, api.url
            env = os.environ | {
                "SLACK_BOT_TOKEN": SLACK_TOKEN,
                "SLACK_SIGNING_SECRET": "jobs-fault-secret",
                "SLACK_API_URL": f"{slack_server.url}/api/",
                "REDIS_URL": redis_server.url,
                "REDIS_KEY_PREFIX": prefix,
                "MODEL": str(checkpoint),
                "MAX_NEW_TOKENS": "16",
                "ZENDESK_WEBHOOK_SECRET": SECRETS["zendesk"],
                "ZENDESK_URL": api.url,
                "ZENDESK_EMAIL": "agent@acme.test",
                "ZENDESK_API_TOKEN": "zd-token",
                "WEBHOOK_ATTACHMENT_HOSTS": "127.0.0.1,127.0.0.2",
                "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
                "JOBS_READ_TOKEN": READ_TOKEN,
                "HELPDESK_RETRY_SECONDS": "0.5",
                "JOB_LEASE_SECONDS": str(lease),
                "LOG_LEVEL": "INFO",
                "HF_HUB_OFFLINE": "1",
            }
            logs = [work / "replica-a.log", work / "replica-b.log"]
            replicas = [_replica(env, log) for log in logs]
            urls = [url for _, url in replicas]
            inspect = redis.Redis.from_url(redis_server.url)
            jobs: dict[int, str] = {}
            takeovers: list[float] = []
            killed = False
            started = time.monotonic()
            try:
                with httpx.Client(timeout=10) as client:
                    for index in range(tickets):
                        ticket = 7000 + index
                        if index == tickets // 2:
                            fake.throttle_notes(2, retry_after=1)
                        if index == 2 * tickets // 3:
                            fake.fail_notes(2, status=500)
                        fake.add_zendesk_ticket(ticket, f"Export {ticket} fails", [("e.png", shot)])
                        body = fake.zendesk_trigger_body(ticket, updater=555)
                        live = [u for (p, u) in replicas if p.poll() is None]
                        url = live[index % len(live)]
                        for _ in range(2 if index % 10 == 0 else 1):
                            jobs[ticket] = _deliver(client, url, body, f"inv-{ticket}")
                        if index >= tickets // 3 and not killed:
                            killed, orphans = _kill_mid_job(replicas[0][0], inspect, stream)
                            if killed:
                                takeovers = _wait_taken_over(inspect, stream, orphans, lease)
                        time.sleep(max(0.0, started + (index + 1) / rate - time.monotonic()))
                    survivor = urls[1]

                    def ended() -> dict[int, dict[str, Any]]:
                        views = {}
                        for ticket, job in jobs.items():
                            views[ticket] = client.get(
                                f"{survivor}/jobs/{job}",
                                headers={"Authorization": f"Bearer {READ_TOKEN}"},
                            ).json()
                        return views

                    deadline = time.monotonic() + settle_seconds
                    views = ended()
                    while time.monotonic() < deadline and any(
                        v.get("state") not in {"done", "dead"} for v in views.values()
                    ):
                        time.sleep(0.5)
                        views = ended()
                elapsed = time.monotonic() - started
            finally:
                for process, _ in replicas:
                    if process.poll() is None:
                        process.send_signal(signal.SIGTERM)
                        process.wait(timeout=60)
                inspect.close()
                redis_server.stop()
            notes = {
                t: sum(1 for n in fake.notes("zendesk") if n.ticket_id == str(t)) for t in jobs
            }
            done = sum(1 for v in views.values() if v.get("state") == "done")
            duplicates = sum(max(0, count - 1) for count in notes.values())
            lost = sum(1 for t in jobs if notes[t] == 0 or views[t].get("state") != "done")
            statuses = [status for _, _, status in fake.note_attempts]
            taken_logged = sum(log.read_text().count("taking over helpdesk job") for log in logs)
        print(f"tickets sent        {tickets} ({len(range(0, tickets, 10))} delivered twice)")
        print(
            f"faults served       {statuses.count(429)} x 429 (Retry-After 1 s), "
            f"{statuses.count(500)} x 500 on note posts"
        )
        held = f"yes, while it held {len(takeovers)} job(s)" if killed else "no"
        print(f"replica killed      {held}")
        print(f"lease               {lease:g} s")
        print(f"jobs done           {done}")
        print(f"duplicates          {duplicates}")
        print(f"lost                {lost}")
        if takeovers:
            print(f"time to take over   {', '.join(f'{t:.2f} s' for t in takeovers)}")
        print(f"take-overs logged   {taken_logged}")
        print(f"wall time           {elapsed:.1f} s")
        return 0 if killed and duplicates == 0 and lost == 0 else 1


def _kill_mid_job(
    victim: subprocess.Popen[bytes], client: redis.Redis, stream: str
) -> tuple[bool, list[str]]:
    """SIGKILL `victim` as soon as it holds a job (within 5 s); the entries it held."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        held = [e for e, c in _pending(client, stream).items() if _consumer_pid(c) == victim.pid]
        if held:
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            return True, held
        time.sleep(0.01)
    return False, []


def _wait_taken_over(
    client: redis.Redis, stream: str, orphans: list[str], lease: float
) -> list[float]:
    """Seconds from the kill until another consumer holds each orphaned entry."""
    killed_at = time.monotonic()
    owners = _pending(client, stream)
    dead = {owners[e] for e in orphans if e in owners}
    taken: dict[str, float] = {}
    while len(taken) < len(orphans) and time.monotonic() < killed_at + 4 * lease + 10:
        owners = _pending(client, stream)
        for entry in orphans:
            if entry not in taken and owners.get(entry) not in dead:
                taken[entry] = time.monotonic() - killed_at
        time.sleep(0.02)
    return sorted(taken.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=30)
    parser.add_argument("--rate", type=float, default=2.0, help="tickets per second")
    parser.add_argument("--lease", type=float, default=5.0, help="JOB_LEASE_SECONDS")
    parser.add_argument("--settle", type=float, default=180.0, help="seconds to wait for notes")
    args = parser.parse_args()
    if not 1 <= args.tickets <= 500:
        parser.error("--tickets must be between 1 and 500")
    return run(args.tickets, args.rate, args.lease, args.settle)


if __name__ == "__main__":
    sys.exit(main())
