"""Load and faults against a real `supportbot serve`, all on loopback, bounded in time.

Starts a private redis-server, the fake Slack Web API, a tiny Qwen3-VL checkpoint and
`supportbot serve` as a separate process; sends N signed mentions at a set rate
(a tenth of them delivered twice, as Slack retries do); kills Redis a third of
the way in and restarts it at two thirds; makes Slack answer 429 and 500 for a
while. Then it counts what reached the threads.

    python bench/load_and_fault.py --events 60 --rate 5

Prints events/s, ack latency p50/p99, answers delivered, duplicates and lost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import percentile
from tests.support.fake_slack import BOT_USER_ID, FakeSlack
from tests.support.redis_server import RedisServer
from tests.support.serve_process import wait_until_ready
from tests.support.servers import ServerThread, free_port
from tests.support.slack_events import encode, envelope, message_event, signed_headers
from tests.support.tiny_checkpoint import build_tiny_checkpoint

TOKEN = "xoxb-load-test-0001"
SECRET = "load-test-secret"


def run(events: int, rate: float, settle_seconds: float) -> int:
    with tempfile.TemporaryDirectory() as workdir:
        checkpoint = build_tiny_checkpoint(Path(workdir) / "tiny")
        redis_server = RedisServer()
        redis_server.start()
        slack = FakeSlack(bot_token=TOKEN)
        with ServerThread(slack.app) as slack_http:
            port = free_port()
            env = os.environ | {
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": f"{slack_http.url}/api/",
                "REDIS_URL": redis_server.url,
                "REDIS_KEY_PREFIX": f"load-{port}",
                "MODEL": str(checkpoint),
                "MAX_NEW_TOKENS": "8",
                "PORT": str(port),
                "HOST": "127.0.0.1",
                "RATE_LIMIT_PER_USER": "0",
                "RATE_LIMIT_PER_CHANNEL": "0",
                "SLACK_STREAMING": "false",
                "LOG_LEVEL": "WARNING",
                "HF_HUB_OFFLINE": "1",
            }
            bot = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                wait_until_ready(url, bot)
                acks: list[float] = []
                sent: list[dict[str, str]] = []
                started = time.monotonic()
                with httpx.Client(timeout=10) as client:
                    for index in range(events):
                        if index == events // 3:
                            redis_server.stop()
                            slack.fail_next("chat.update", status=429, retry_after=1, times=3)
                        if index == events // 2:
                            slack.fail_next("chat.postMessage", status=500, times=3)
                        if index == 2 * events // 3:
                            redis_server.start()
                        event = message_event(
                            channel=f"CLOAD{index % 5}",
                            kind="app_mention",
                            text=f"<@{BOT_USER_ID}> error number {index}",
                        )
                        payload = envelope(event)
                        deliveries = 2 if index % 10 == 0 else 1
                        for _ in range(deliveries):
                            body = encode(payload)
                            t0 = time.monotonic()
                            response = client.post(
                                f"{url}/slack/events",
                                content=body,
                                headers=signed_headers(SECRET, body),
                            )
                            acks.append(time.monotonic() - t0)
                            if response.status_code != 200:
                                print(f"event {index}: HTTP {response.status_code}")
                        sent.append({"channel": event["channel"], "ts": event["ts"]})
                        time.sleep(max(0.0, started + (index + 1) / rate - time.monotonic()))
                sending = time.monotonic() - started

                def finished(item: dict[str, str]) -> bool:
                    replies = slack.thread_messages(item["channel"], item["ts"])
                    return any(
                        (text := slack.final_text(item["channel"], r.args["_ts"]))
                        and not text.startswith("_")
                        and not text.endswith(" …")
                        for r in replies
                    )

                deadline = time.monotonic() + settle_seconds
                while time.monotonic() < deadline and not all(finished(i) for i in sent):
                    time.sleep(0.5)
                answered = sum(finished(i) for i in sent)
                duplicates = sum(
                    max(0, len(slack.thread_messages(i["channel"], i["ts"])) - 1) for i in sent
                )
                lost = len(sent) - answered
                faults = [c.method for c in slack.calls() if "!" in c.method]
            finally:
                bot.terminate()
                bot.wait(timeout=60)
                redis_server.stop()
        print(
            f"events sent        {len(sent)} ({sum(1 for i in range(events) if i % 10 == 0)} "
            f"delivered twice)"
        )
        print(
            f"faults served      {len(faults)} ({', '.join(sorted(set(faults)))}); "
            f"Redis down for events {events // 3}-{2 * events // 3 - 1}"
        )
        print(f"events/s           {len(sent) / sending:.1f}")
        print(f"ack latency p50    {statistics.median(acks) * 1000:.1f} ms")
        print(f"ack latency p99    {percentile(acks, 0.99) * 1000:.1f} ms")
        print(f"answers delivered  {answered}")
        print(f"duplicates         {duplicates}")
        print(f"lost               {lost}")
        return 0 if duplicates == 0 and lost == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--rate", type=float, default=5.0, help="events per second")
    parser.add_argument("--settle", type=float, default=120.0, help="seconds to wait for answers")
    args = parser.parse_args()
    return run(args.events, args.rate, args.settle)


if __name__ == "__main__":
    sys.exit(main())
