"""Two `supportbot serve` processes share one Redis: one answer per message, one shared
history, and each helpdesk job held by one replica at a time."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from handlers.helpdesks.registry import REGISTRY
from tests.scenario.conftest import ServeSettings
from tests.support.fake_attachment_host import FakeAttachmentHost
from tests.support.fake_helpdesk import FakeHelpdesk
from tests.support.fake_slack import BOT_USER_ID, FakeSlack
from tests.support.screenshots import render_error_screenshot
from tests.support.serve_process import serve_process, start_serve
from tests.support.servers import ServerThread
from tests.support.slack_events import (
    encode,
    envelope,
    file_object,
    message_event,
    next_ts,
    signed_headers,
)
from tests.support.webhook_deliveries import READ_TOKEN, SECRETS, helpdesk_settings

pytestmark = pytest.mark.slow

TOKEN = "xoxb-replica-test-0001"
SECRET = "replica-test-secret"
SHOT = render_error_screenshot()


def _post(url: str, event: dict[str, object], event_id: str | None = None) -> None:
    body = encode(envelope(event, event_id=event_id))
    response = httpx.post(f"{url}/slack/events", content=body, headers=signed_headers(SECRET, body))
    assert response.status_code == 200


def test_two_replicas_answer_each_message_once_and_share_the_thread(
    settings_for_serve: ServeSettings,
) -> None:
    slack = FakeSlack(bot_token=TOKEN)
    slack.add_file("shared.png", render_error_screenshot())
    with ServerThread(slack.app) as slack_server:
        settings = settings_for_serve(slack_server.url, TOKEN, SECRET) | {
            "MAX_NEW_TOKENS": "12",
            "SLACK_STREAMING": "false",
        }
        with serve_process(**settings) as first, serve_process(**settings) as second:
            ts = next_ts()
            files = [file_object("shared.png", slack_server.url)]
            text = f"<@{BOT_USER_ID}> what does this mean?"
            mention = message_event(
                channel="CREP", kind="app_mention", text=text, ts=ts, files=files
            )
            share = message_event(
                channel="CREP", text=text, ts=ts, files=files, subtype="file_share"
            )
            # Slack delivers the pair to whichever replica, and retries to the other.
            _post(first, mention, event_id="EvREPLICA1")
            _post(second, share, event_id="EvREPLICA2")
            _post(second, mention, event_id="EvREPLICA1")

            def answered(thread_ts: str, count: int) -> bool:
                texts = [
                    slack.final_text("CREP", c.args["_ts"])
                    for c in slack.thread_messages("CREP", thread_ts)
                ]
                done = [t for t in texts if t and not t.startswith("_") and not t.endswith(" …")]
                return len(done) >= count

            slack.wait_for(lambda: answered(ts, 1))
            follow_up = message_event(channel="CREP", text="still failing", thread_ts=ts)
            # Both replicas see the follow-up: each knows the thread from Redis, one answers.
            _post(first, follow_up, event_id="EvREPLICA3")
            _post(second, follow_up, event_id="EvREPLICA3")
            slack.wait_for(lambda: answered(ts, 2))
            assert len(slack.thread_messages("CREP", ts)) == 2, "one answer per message"
            assert slack.downloads("shared.png") == 1, "the other replica used the shared history"


# -- helpdesk jobs: held by leases across replicas -------------------------------------------

LEASE_SECONDS = 2


def _helpdesk_env(helpdesk_url: str) -> dict[str, str]:
    """Zendesk pointed at the fake helpdesk, as env vars for `supportbot serve`."""
    values = helpdesk_settings(helpdesk_url, job_lease_seconds=LEASE_SECONDS)
    return {
        name.upper(): ",".join(value) if isinstance(value, list) else str(value)
        for name, value in values.items()
        if name.startswith(("zendesk", "webhook", "jobs", "helpdesk", "job_"))
    }


def _deliver_ticket(url: str, fake: FakeHelpdesk, ticket: int) -> str:
    fake.add_zendesk_ticket(ticket, f"Export {ticket} fails", [("err.png", SHOT)])
    raw = json.dumps(fake.zendesk_trigger_body(ticket, updater=555)).encode()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    headers = REGISTRY.sign("zendesk", SECRETS["zendesk"], raw, stamp)
    response = httpx.post(
        f"{url}/webhooks/zendesk",
        content=raw,
        headers=headers | {"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["job"])


def _view(url: str, job_id: str) -> dict[str, Any]:
    view: dict[str, Any] = httpx.get(
        f"{url}/jobs/{job_id}", headers={"Authorization": f"Bearer {READ_TOKEN}"}, timeout=10
    ).json()
    return view


def _holders(redis_url: str, prefix: str) -> list[int]:
    """The process ids of the replicas holding a job (their consumer names end in pid-random)."""
    client = redis.Redis.from_url(redis_url)
    try:
        pending = client.xpending_range(f"{prefix}:jobs:stream", "runners", "-", "+", 10)
    finally:
        client.close()
    names = [entry["consumer"] for entry in pending]
    return [int((n.decode() if isinstance(n, bytes) else str(n)).split("-")[-2]) for n in names]


def _taken_over(url: str) -> float:
    """The replica's count of Zendesk jobs it took over."""
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    name = 'supportbot_helpdesk_jobs_taken_over_total{provider="zendesk"} '
    lines = [line.removeprefix(name) for line in metrics.splitlines() if line.startswith(name)]
    return float(lines[0]) if lines else 0.0


def _notes(fake: FakeHelpdesk, ticket: int) -> list[str]:
    return [note.text for note in fake.notes("zendesk") if note.ticket_id == str(ticket)]


def test_helpdesk_jobs_are_held_by_one_replica_and_taken_over_when_it_dies(
    settings_for_serve: ServeSettings, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    slack = FakeSlack(bot_token=TOKEN)
    files = FakeAttachmentHost()
    fake = FakeHelpdesk(files)
    with (
        ServerThread(slack.app) as slack_server,
        ServerThread(files.app, host="127.0.0.2") as file_server,
        ServerThread(fake.app) as api,
    ):
        files.url, fake.url = file_server.url, api.url
        settings = settings_for_serve(slack_server.url, TOKEN, SECRET) | _helpdesk_env(api.url)
        settings |= {"MAX_NEW_TOKENS": "8", "SLACK_STREAMING": "false"}
        logs = {name: tmp_path / f"{name}.log" for name in ("first", "second")}
        processes: dict[str, subprocess.Popen[str]] = {}
        try:
            with logs["first"].open("w") as log:
                processes["first"], first_url = start_serve(output=log.fileno(), **settings)

            # 1. A replica that starts while another is mid-answer takes nothing.
            files.hold_files()  # the answer waits on its screenshot
            held = _deliver_ticket(first_url, fake, 5101)
            slack.wait_for(lambda: len(files.requested) == 1)
            with logs["second"].open("w") as log:
                processes["second"], second_url = start_serve(output=log.fileno(), **settings)
            time.sleep(3 * LEASE_SECONDS)  # the second replica claims all the while
            assert len(files.requested) == 1, "only the first replica started on the job"
            assert _holders(redis_url, redis_prefix) == [processes["first"].pid]
            files.release_files()
            view = slack.wait_for(lambda: (v := _view(second_url, held))["state"] == "done" and v)
            assert view["attempts"] == 1 and view["note_posted"]
            assert len(_notes(fake, 5101)) == 1

            # 2. A replica that stalls past its lease loses the job, and stops on it when it
            # wakes: the other replica runs it.
            files.hold_files()
            stalled_job = _deliver_ticket(first_url, fake, 5104)
            slack.wait_for(lambda: len(files.requested) == 2)
            [holder] = _holders(redis_url, redis_prefix)
            stalled = next(p for p in processes.values() if p.pid == holder)
            other = next(p for p in processes.values() if p.pid != holder)
            stalled.send_signal(signal.SIGSTOP)
            slack.wait_for(lambda: _holders(redis_url, redis_prefix) == [other.pid])
            stalled.send_signal(signal.SIGCONT)
            stalled_url = first_url if stalled is processes["first"] else second_url
            lost = 'supportbot_helpdesk_lease_renewals_failed_total{reason="lost"} 1.0'
            # Its next renewal finds the job taken over; only then may the file come.
            slack.wait_for(lambda: lost in httpx.get(f"{stalled_url}/metrics", timeout=10).text)
            files.release_files()
            view = slack.wait_for(
                lambda: (v := _view(first_url, stalled_job))["state"] == "done" and v
            )
            assert len(_notes(fake, 5104)) == 1
            stalled_metrics = httpx.get(f"{stalled_url}/metrics", timeout=10).text
            assert lost in stalled_metrics, "counted once, not again when the job ended"
            requested = len(files.requested)

            # 3. A replica killed with SIGKILL mid-answer: the other finishes its job.
            files.hold_files()
            orphan = _deliver_ticket(first_url, fake, 5102)
            slack.wait_for(lambda: len(files.requested) == requested + 1)
            [holder] = _holders(redis_url, redis_prefix)
            name = next(n for n, p in processes.items() if p.pid == holder)
            survivor = "second" if name == "first" else "first"
            survivor_url = second_url if survivor == "second" else first_url
            taken_before = _taken_over(survivor_url)
            processes[name].send_signal(signal.SIGKILL)
            processes[name].wait(timeout=10)
            files.release_files()
            # Taken over once its lease ran out (the counter says how, not a stopwatch).
            view = slack.wait_for(
                lambda: (v := _view(survivor_url, orphan))["state"] == "done" and v, timeout=60
            )
            assert view["attempts"] == 2 and view["note_posted"]
            assert len(_notes(fake, 5102)) == 1, "one note for the ticket"
            assert len(files.requested) == requested + 2, "the survivor read it again, once"
            assert "taking over helpdesk job" in logs[survivor].read_text()
            assert _taken_over(survivor_url) == taken_before + 1

            # 4. A replica stopped gracefully hands its job back: the other runs it at once.
            files.hold_files()
            handed = _deliver_ticket(survivor_url, fake, 5103)
            slack.wait_for(lambda: len(files.requested) == requested + 3)
            with logs[name].open("a") as log:
                processes[name], restarted_url = start_serve(output=log.fileno(), **settings)
            processes[survivor].terminate()
            processes[survivor].wait(timeout=60)
            files.release_files()
            view = slack.wait_for(
                lambda: (v := _view(restarted_url, handed))["state"] == "done" and v, timeout=60
            )
            assert view["attempts"] == 1, "the attempt cut short by the stop is not counted"
            assert len(_notes(fake, 5103)) == 1
            assert "handed back unfinished" in logs[survivor].read_text()
        finally:
            files.release_files()
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
                    process.wait(timeout=60)
    for ticket in (5101, 5102, 5103, 5104):
        assert len(_notes(fake, ticket)) == 1
