"""Nothing we did not write reaches Slack able to mention anyone: every write path escapes.

The paths are enumerated from the source: a new call that writes to Slack fails
`test_every_slack_write_call_is_a_known_path` until it is listed here with the test
that pushes hostile text through it.
"""

from __future__ import annotations

import ast
import asyncio
import html
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.summaries import ThreadSummarizer
from bot.conversation.turns import HistoryEntry, Speaker, ThreadKey
from bot.engine.transformers_engine import TransformersEngine
from bot.intake.jobs import Job
from bot.messages import Language
from bot.observability.metrics import Metrics
from bot.safety.filters import RedactingFilter
from bot.safety.redaction import Redactor
from bot.stores.cases import InMemoryCaseStore
from bot.stores.history import InMemoryHistoryStore
from bot.stores.jobs import InMemoryJobStore
from bot.stores.knowledge import InMemoryKnowledgeBase
from bot.stores.rate_limit import InMemoryRateLimiter
from handlers.mrkdwn import code_span_text, escape, markdown_to_mrkdwn
from handlers.slack.escalation import EscalationDesk
from handlers.slack.thread_reply import SlackThreadReply, StreamingSupport, ThreadPlace
from handlers.webhooks.runner import JobRunner
from tests.support.fake_slack import FakeSlack
from tests.support.scripted_checkpoint import build_scripted_checkpoint
from tests.support.servers import ServerThread

TOKEN = "xoxb-escaping-test"
PLACE = ThreadPlace(channel="C1", thread_ts="1.0", message_ts="1.0", team_id="T1", user_id="U1")
HOSTILE = "Ping <!channel> <!here> <!everyone> <!subteam^S0EVIL> <@U0EVIL> <#C0EVIL> "
HOSTILE += "<https://evil.example|docs.python.org> & done"
MENTION_SCRIPT = ["Summary:", " <!channel>", " <!here>", " <!subteam^S0EVIL>", " <@U0EVIL>", " ok."]

ROOT = Path(__file__).resolve().parents[4]
WRITE_METHODS = {
    "chat_postMessage",
    "chat_postEphemeral",
    "chat_update",
    "chat_startStream",
    "chat_appendStream",
    "chat_stopStream",
    "chat_scheduleMessage",
    "files_upload_v2",
    "views_open",
    "views_update",
    "views_publish",
    "respond",
    "assistant_threads_setStatus",
    "assistant_threads_setTitle",
    "assistant_threads_setSuggestedPrompts",
    "set_suggested_prompts",
    "set_status",
    "set_title",
}
# Every call that writes to Slack, by (file, enclosing function), with what it sends.
KNOWN_PATHS = {
    ("handlers/slack/thread_reply.py", "_start_stream"): "stream start: escape() via _shown",
    ("handlers/slack/thread_reply.py", "_append"): "stream append: escape() via _shown",
    ("handlers/slack/thread_reply.py", "_stop_stream"): "stream stop (buttons only)",
    ("handlers/slack/thread_reply.py", "_send_steps"): "task cards: titles escaped by steps.py",
    ("handlers/slack/thread_reply.py", "_edit"): "answer: markdown_to_mrkdwn, our statuses",
    ("handlers/slack/thread_reply.py", "_set_status"): "our status sentences (plain text)",
    ("handlers/slack/thread_reply.py", "_clear_reaction"): "an empty status",
    ("handlers/slack/posting.py", "post_once"): "what its callers pass: _post (mrkdwn answer)",
    ("handlers/slack/feedback.py", "record_feedback"): "our thanks, Slack's user id",
    ("handlers/slack/escalation/workflow.py", "escalate"): "desk post: summary via mrkdwn",
    ("handlers/slack/escalation/workflow.py", "_in_thread"): "our statuses; resolution escaped",
    ("handlers/slack/escalation/workflow.py", "_share_screenshots"): "upload: plain-text title",
    ("handlers/slack/escalation/workflow.py", "_open_ticket"): "ticket id escaped",
    ("handlers/slack/escalation/workflow.py", "_update_desk"): "resolution escaped",
    ("handlers/slack/escalation/listeners.py", "escalate_from_button"): "Slack's own message",
    ("handlers/slack/escalation/listeners.py", "escalate_from_command"): "our sentence",
    ("handlers/slack/escalation/listeners.py", "ask_for_resolution"): "our modal",
    ("handlers/slack/escalation/listeners.py", "_refuse"): "our refusal sentences",
    ("handlers/slack/unhandled.py", "_tell"): "our sentences",
    ("handlers/slack/assistant.py", "name_thread"): "plain-text title from the user's question",
    ("handlers/slack/assistant.py", "greet"): "our greeting and suggested prompts",
    ("handlers/slack/assistant.py", "greet_in_messages_tab"): "our greeting and prompts",
    ("handlers/webhooks/runner.py", "_announce"): "announcement(): ticket id and result",
}


def _write_calls() -> set[tuple[str, str]]:
    """(file, innermost enclosing function) of every call of a Slack write method."""
    found: set[tuple[str, str]] = set()

    def visit(node: ast.AST, file: str, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Call):
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else None
            if isinstance(callee, ast.Name):
                name = callee.id
            if name in WRITE_METHODS:
                found.add((file, function))
        for child in ast.iter_child_nodes(node):
            visit(child, file, function)

    for path in sorted((ROOT / "handlers").rglob("*.py")):
        visit(ast.parse(path.read_text("utf-8")), str(path.relative_to(ROOT)), "<module>")
    return found


def test_every_slack_write_call_is_a_known_path() -> None:
    assert _write_calls() == set(KNOWN_PATHS)


def _raw_specials(fake: FakeSlack) -> list[str]:
    """Recorded calls whose text would mention someone or carry a disguised link."""
    bad = []
    for call in fake.calls():
        shown = json.dumps({k: v for k, v in call.args.items() if k != "_ts"})
        if any(token in shown for token in ("<!channel", "<!here", "<!everyone", "<@U0EVIL")):
            bad.append(f"{call.method}: {shown}")
        if "<!subteam^S0EVIL" in shown or "<https://evil" in shown or "<#C0EVIL" in shown:
            bad.append(f"{call.method}: {shown}")
    return bad


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(list("<>&!@#^|`* \nabc")) | st.characters(), max_size=60))
def test_escape_leaves_no_control_character_and_shows_the_text_as_typed(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped
    assert all(line.lstrip(" \t").find(">", 1) == -1 for line in escaped.split("\n"))
    assert html.unescape(escaped) == text or "&" in text  # entities in the input stay literal
    assert escape(text).count("&lt;") == text.count("<")


def test_a_file_name_cannot_close_its_code_span() -> None:
    name = "a`b\n<!here>.png"
    shown = markdown_to_mrkdwn(f"I could not read `{code_span_text(name)}`: it is broken")
    assert shown.count("`") == 2 and "<!here>" not in shown and "\n" not in shown


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlack, AsyncWebClient]]:
    fake = FakeSlack(bot_token=TOKEN, streaming=True)
    with ServerThread(fake.app) as server:
        fake.base_url = server.url
        yield fake, AsyncWebClient(token=TOKEN, base_url=f"{server.url}/api/")


@pytest.mark.parametrize("streaming", [True, False])
async def test_answers_streamed_or_edited_never_mention(
    slack: tuple[FakeSlack, AsyncWebClient], streaming: bool
) -> None:
    fake, client = slack
    reply = SlackThreadReply(
        client, PLACE, streaming=StreamingSupport(enabled=streaming), update_interval=0
    )
    await reply.start("Looking into it…")
    notes = f"> I could not read `{code_span_text('x`<!here>.png')}`: broken\n\n"
    await reply.progress(notes)
    await reply.progress(f"{notes}{HOSTILE}")
    await reply.finish(f"{notes}{HOSTILE} more")
    assert _raw_specials(fake) == []
    sent = "".join(
        str(c.args.get("markdown_text") or c.args.get("text") or "") for c in fake.calls()
    )
    assert "&lt;!channel&gt;" in sent, "the text is shown, escaped"


async def test_an_answer_that_breaks_off_mid_stream_never_mentions(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    reply = SlackThreadReply(client, PLACE, streaming=StreamingSupport(), update_interval=0)
    await reply.start("Looking into it…")
    await reply.progress(HOSTILE)
    await reply.broke_off(HOSTILE + " <!here>", "the answer above is incomplete")
    assert fake.calls("chat.startStream") and _raw_specials(fake) == []


async def test_a_ticket_announcement_never_mentions(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    runner = JobRunner(
        InMemoryJobStore(), diagnosers={}, notes={}, metrics=Metrics(), slack=(client, "CJOBS")
    )
    job = Job("j1", "generic", "<!channel>`\n*1*", "text", result=HOSTILE)
    done = await runner.process(job)
    assert done.state.value == "done"
    [post] = fake.calls("chat.postMessage")
    assert "&lt;!channel&gt;" in post.args["text"] and _raw_specials(fake) == []


@pytest.fixture(scope="module")
def mention_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersEngine]:
    """A real model whose every answer is a summary full of mass mentions."""
    checkpoint = build_scripted_checkpoint(tmp_path_factory.mktemp("mentions"), MENTION_SCRIPT)
    engine = TransformersEngine(str(checkpoint), device="cpu", max_new_tokens=16)
    asyncio.run(engine.start())
    yield engine
    asyncio.run(engine.close())


@pytest.mark.slow
async def test_escalation_posts_never_mention_but_the_on_call_group(
    slack: tuple[FakeSlack, AsyncWebClient], mention_engine: TransformersEngine
) -> None:
    fake, client = slack
    history = InMemoryHistoryStore()
    thread = ThreadKey.for_slack("T1", "C1", "1.0")
    await history.append(thread, HistoryEntry(Speaker.USER, f"help {HOSTILE}"))
    redactor = Redactor()
    desk = EscalationDesk(
        cases=InMemoryCaseStore(),
        history=history,
        knowledge=InMemoryKnowledgeBase(),
        summarizer=ThreadSummarizer(
            engine=mention_engine, history=history, reply_filter=RedactingFilter(redactor)
        ),
        channel="CDESK",
        usergroup="S0ONCALL",
        metrics=Metrics(),
        limiter=InMemoryRateLimiter(),
    )
    await desk.escalate(client, thread, by="U1", language=Language.ENGLISH)
    [post] = [c for c in fake.calls("chat.postMessage") if c.args.get("channel") == "CDESK"]
    assert "&lt;!channel&gt;" in json.dumps(post.args), "the model's summary is shown, escaped"
    assert "<!subteam^S0ONCALL>" in post.args["text"], "the configured group is still paged"
    await desk.take(client, thread, "U2")
    await desk.resolve(client, thread, "U2", f"fixed it {HOSTILE}")
    assert _raw_specials(fake) == []


async def test_entities_never_push_a_stream_call_over_slacks_limit(
    slack: tuple[FakeSlack, AsyncWebClient],
) -> None:
    fake, client = slack
    reply = SlackThreadReply(client, PLACE, streaming=StreamingSupport(), update_interval=0)
    await reply.start("Looking into it…")
    answer = "a <b> & c " * 3000  # 30,000 characters that escape to 66,000
    await reply.finish(answer)
    sent = [
        str(c.args.get("markdown_text") or "")
        for c in fake.calls()
        if c.method in {"chat.startStream", "chat.appendStream"}
    ]
    assert sent and max(len(piece) for piece in sent) <= 12_000
    assert "".join(sent) == escape(answer)
