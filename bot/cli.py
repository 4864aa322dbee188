"""The `supportbot` command: `serve` runs the bot, `diagnose` answers screenshots locally,
`doctor` checks everything the bot depends on, `eval` measures the diagnosis over the
shipped set of error screenshots, `send-test` checks a helpdesk connection end to end.

Settings are read and checked (all of them, every problem reported) before
anything heavy is imported, so a typo costs a second, not the time to import torch.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import BotError, ConfigError
from bot.settings import Needs, Settings, env_name, load_settings

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from handlers.helpdesks.registry import HelpdeskSettings

# Exit statuses: 1 the work failed (the model cannot load, a doctor check failed), 2 bad settings.
EXIT_FAILED = 1
EXIT_CONFIG = 2


def _version() -> str:
    try:
        return version("supportbot")
    except PackageNotFoundError:  # run from a checkout without installing
        return "unknown"


def _settings_table() -> str:
    """Every setting with its default, for `serve --help` (the README explains each): the
    shared ones, then each helpdesk's own."""
    from handlers.helpdesks.registry import REGISTRY

    models: list[type[BaseSettings]] = [
        Settings,
        *(helpdesk.settings_model for helpdesk in REGISTRY.helpdesks),
    ]
    rows = []
    for name, field in [item for model in models for item in model.model_fields.items()]:
        default = field.get_default(call_default_factory=True)
        if isinstance(default, list):
            default = ",".join(str(item) for item in default)
        shown = "unset" if default is None or default == "" else str(default)
        rows.append(f"  {env_name(name):<28} {shown}")
    return "\n".join(rows)


def _configure_logging(settings: Settings) -> None:
    from bot.observability.log_format import configure_logging
    from bot.safety.factory import build_redactor
    from bot.settings import LogFormat

    configure_logging(
        level=settings.log_level.value,
        json_lines=settings.log_format is LogFormat.JSON,
        redactor=build_redactor(settings),
    )


def serve(settings: Settings, desks: HelpdeskSettings) -> int:
    import uvicorn

    from bot.app import build_app

    supportbot = build_app(settings, helpdesk_settings=desks)
    server = uvicorn.Server(
        # log_config=None: uvicorn's loggers go through the root handler, and its redaction.
        uvicorn.Config(supportbot.asgi, host=settings.host, port=settings.port, log_config=None)
    )
    fatal: list[str] = []

    def stop(reason: str) -> None:
        # A model that can never load will not heal by waiting: stop, so that the
        # supervisor (Kubernetes, compose, systemd) shows the failure and its reason.
        fatal.append(reason)
        server.should_exit = True

    supportbot.on_fatal = stop
    mode = "Socket Mode and HTTP" if settings.socket_mode else "HTTP"
    logging.getLogger("bot.cli").info(
        "supportbot listening on %s:%d (%s), model %s",
        settings.host,
        settings.port,
        mode,
        settings.model_id,
    )
    server.run()
    if fatal:
        print(f"supportbot: {fatal[0]}", file=sys.stderr)
        return EXIT_FAILED
    return 0


async def _diagnose(
    settings: Settings, desks: HelpdeskSettings, images: list[Path], question: str
) -> int:
    from bot.app.local import local_diagnoser
    from bot.conversation.diagnosis import AnswerPiece, AttachmentsRead
    from bot.conversation.turns import AttachmentRef, ThreadKey, Turn
    from handlers.helpdesks.registry import REGISTRY

    async with local_diagnoser(settings, REGISTRY.article_credentials(desks)) as diagnoser:
        turn = Turn(
            thread=ThreadKey("local", "terminal", "1"),
            user_id="local",
            text=question,
            message_ts="1",
            attachments=tuple(AttachmentRef(filename=path.name, url=str(path)) for path in images),
        )
        async for event in diagnoser.diagnose(turn):
            if isinstance(event, AttachmentsRead):
                for skipped in event.skipped:
                    print(f"skipped {skipped.filename}: {skipped.reason}", file=sys.stderr)
                for notice in event.notices:
                    print(notice, file=sys.stderr)
            elif isinstance(event, AnswerPiece):
                print(event.text, end="", flush=True)
        print()
    return 0


async def _doctor(settings: Settings, desks: HelpdeskSettings) -> int:
    from bot.app.doctor import failed, render, run_checks

    checks = await run_checks(settings, helpdesk_settings=desks)
    print(render(checks))
    return EXIT_FAILED if failed(checks) else 0


async def _evaluate(settings: Settings, desks: HelpdeskSettings, args: argparse.Namespace) -> int:
    from bot.app.engine import remote_model_name
    from bot.app.local import diagnoser_on, local_engine
    from bot.evaluation.command import choose, evaluate, print_legibility
    from bot.evaluation.legibility import ResizeRule, qwen3_vl_rule, rule_for_model
    from bot.settings import EngineKind
    from handlers.helpdesks.registry import REGISTRY

    try:
        choice = choose(args)
    except ValueError as error:
        print(f"supportbot eval: {error}", file=sys.stderr)
        return EXIT_CONFIG
    local = settings.engine is EngineKind.LOCAL

    def resize_rule() -> ResizeRule:
        if local:
            return rule_for_model(settings.model_id, settings.max_image_pixels)
        # A remote server resizes as it is configured; this is the local engine's rule.
        return qwen3_vl_rule(settings.max_image_pixels, source="Qwen3-VL defaults (remote engine)")

    if args.legibility_only:
        print_legibility(choice, resize_rule())
        return 0
    if args.knowledge_only:
        from bot.app.knowledge import build_embedder
        from bot.evaluation.knowledge_eval import evaluate_retrieval, retrieval_table

        scores = await evaluate_retrieval(build_embedder(settings))
        print(retrieval_table(scores))
        for row in scores:
            if row.misses:
                print(f"{row.mode}: not in the first 5: {', '.join(row.misses)}")
        return 0
    meta: dict[str, object] = {
        "engine": settings.engine.value,
        "model": settings.model_id if local else remote_model_name(settings),
        "lora_adapter": settings.lora_adapter,
        "max_image_pixels": settings.max_image_pixels,
        "max_new_tokens": settings.max_new_tokens,
    }
    async with local_engine(settings) as engine:
        diagnoser = diagnoser_on(settings, engine, credentials=REGISTRY.article_credentials(desks))
        if not args.knowledge:
            return await evaluate(
                args, diagnoser=diagnoser, rule=resize_rule(), meta=meta, choice=choice
            )
        from bot.app.knowledge import build_embedder
        from bot.evaluation.knowledge_answers import sample_retriever

        meta["embedding_model"] = settings.embedding_model
        async with sample_retriever(
            build_embedder(settings), min_similarity=settings.knowledge_min_similarity
        ) as retriever:
            return await evaluate(
                args,
                diagnoser=diagnoser,
                rule=resize_rule(),
                meta=meta,
                choice=choice,
                knowledge=diagnoser_on(settings, engine, retriever=retriever),
            )


def _send_test(settings: Settings, desks: HelpdeskSettings, args: argparse.Namespace) -> int:
    from pydantic import SecretStr

    from handlers.helpdesks.registry import REGISTRY
    from handlers.helpdesks.send_test import send_test_delivery

    provider: str = args.provider
    route = REGISTRY.routes[provider]
    secret = route.read(desks[REGISTRY.helpdesk_name(provider)])
    if not isinstance(secret, SecretStr):
        raise ConfigError(f"{route.setting} is not set: the test delivery is signed with it")
    read_token = settings.jobs_read_token
    if read_token is None and route.token_only:
        raise ConfigError(
            f"JOBS_READ_TOKEN is not set: a {provider} job's result is read only with it"
        )
    host = "127.0.0.1" if settings.host in {"0.0.0.0", "::", ""} else settings.host
    base_url = args.url or f"http://{host}:{settings.port}"
    result = send_test_delivery(
        base_url=base_url,
        provider=provider,
        secret=secret.get_secret_value(),
        read_token=(read_token or secret).get_secret_value(),
        ticket=args.ticket,
        text=args.text,
        wait_seconds=args.wait,
        report=print,
    )
    if result.unreachable is not None:
        print(
            f"supportbot: the bot cannot be reached at {base_url} ({result.unreachable});"
            " is `supportbot serve` running there?",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if result.job is not None:
        for field in ("state", "attempts", "note_posted", "error", "result"):
            print(f"{field}: {result.job.get(field)}")
    if result.ok(provider):
        print("the bot received, diagnosed and answered the test ticket")
        return 0
    if result.job is None:
        print(
            f"supportbot: the bot did not take the delivery ({result.status_code})", file=sys.stderr
        )
    elif result.answered:
        missing = REGISTRY.missing_api_settings(desks, provider)
        needs = ", ".join(missing) if missing else "its API credentials"
        print(
            f"supportbot: the ticket was diagnosed but no note was posted: "
            f"{REGISTRY.helpdesk_name(provider)} notes need {needs} set on the bot",
            file=sys.stderr,
        )
    else:
        print(f"supportbot: the job ended {result.job.get('state')}", file=sys.stderr)
    return EXIT_FAILED


def _engine_words(settings: Settings) -> str:
    from bot.settings import EngineKind

    if settings.engine is EngineKind.REMOTE:
        from bot.printable_urls import printable_url

        return f"the model server at {printable_url(settings.engine_url or '')}"
    model = (
        "auto (the Qwen3-VL model that fits this machine)"
        if settings.model_id == "auto"
        else settings.model_id
    )
    return f"MODEL={model} in this process (importing torch takes a few seconds)"


def _first_line(command: str, settings: Settings, args: argparse.Namespace) -> str:
    """What the command is about to do, said before anything slow is imported."""
    if command == "serve":
        return (
            f"starting on {settings.host}:{settings.port} with {_engine_words(settings)}; "
            "/healthz answers as soon as HTTP is up, /readyz once the model is"
        )
    if command == "doctor":
        return "checking the settings, Slack, Redis, the model, clamd and the helpdesks …"
    if command == "eval":
        return f"evaluating with {_engine_words(settings)} …"
    if command == "diagnose":
        files = len(args.images)
        return f"diagnosing {files} file(s) with {_engine_words(settings)} …"
    return f"{command} …"


def unreadable_files(paths: list[Path]) -> list[str]:
    """One line per path that `diagnose` cannot read (missing, a directory, no permission)."""
    problems = []
    for path in paths:
        try:
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as error:
            problems.append(f"cannot read {path}: {error.strerror or type(error).__name__}")
    return problems


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    from handlers.helpdesks.registry import REGISTRY  # the webhook routes send-test can sign

    parser = argparse.ArgumentParser(
        prog="supportbot",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"supportbot {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "serve",
        help="run the Slack bot (HTTP events, and Socket Mode with SLACK_APP_TOKEN)",
        description="Run the Slack bot and the helpdesk webhooks on HOST:PORT.",
        epilog=(
            "Settings come from environment variables (and a .env file in the working "
            "directory); the README describes each. Name, default:\n\n" + _settings_table()
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diagnose = commands.add_parser(
        "diagnose",
        help="diagnose screenshots in the terminal, no Slack",
        description="Answer screenshots (and a question) in the terminal with the model.",
        epilog="Settings (MODEL, DEVICE, DTYPE, …) come from the environment, as for serve.",
    )
    diagnose.add_argument(
        "images",
        nargs="*",
        type=Path,
        help="screenshots (PNG, JPEG, GIF, WebP) and text files (logs)",
    )
    diagnose.add_argument("--question", "-q", default="", help="what to ask about them")
    commands.add_parser(
        "doctor",
        help="check Slack, Redis, the model, clamd and the helpdesks; say what to fix",
        description=(
            "Check, for real, everything the bot depends on with the current settings: "
            "the Slack token and scopes, Redis, the model (found, fits, device), clamd, "
            "and each configured helpdesk's credentials. Exits 1 when a check fails."
        ),
    )
    from bot.evaluation.command import add_arguments

    add_arguments(
        commands.add_parser(
            "eval",
            help="score the diagnosis over the shipped error screenshots, any engine",
            description=(
                "Put each shipped error screenshot to the bot as a user would and score the "
                "answers (see docs/eval.md). Settings come from the environment, as for serve."
            ),
        )
    )
    from bot.app.knowledge_command import add_arguments as add_knowledge_arguments

    add_knowledge_arguments(
        commands.add_parser(
            "knowledge",
            help="sync, search and audit the knowledge base (KNOWLEDGE_CONFIG)",
            description=(
                "Sync the sources KNOWLEDGE_CONFIG declares into the index, search it as a "
                "channel would, or list questions nothing matched (see docs/knowledge.md)."
            ),
        )
    )
    check = commands.add_parser(
        "send-test",
        help="send a signed test delivery to a running bot and show the job's result",
        description="Posts a real internal note on TICKET: use a test ticket.",
    )
    check.add_argument(
        "provider",
        choices=list(REGISTRY.routes),
        help="which webhook to test (signed with that provider's configured secret)",
    )
    check.add_argument("--ticket", required=True, help="the test ticket's id (or Jira key)")
    check.add_argument("--url", help="the bot's base URL (default: http://127.0.0.1:PORT)")
    check.add_argument(
        "--text", default="The app shows: Error 42 when saving", help="the ticket's text"
    )
    check.add_argument("--wait", type=float, default=180.0, help="seconds to follow the job")
    return parser, diagnose


_NEEDS = {
    "serve": Needs.SLACK_AND_ENGINE,
    "diagnose": Needs.ENGINE,
    "doctor": Needs.NOTHING,
    "eval": Needs.ENGINE,
    "send-test": Needs.NOTHING,
    "knowledge": Needs.NOTHING,
}


def main(argv: list[str] | None = None) -> int:
    parser, diagnose = _parser()
    args = parser.parse_args(argv)
    if args.command == "diagnose" and not args.images and not args.question:
        diagnose.error("give at least one screenshot or a --question")

    from handlers.helpdesks.registry import REGISTRY

    try:
        # Each helpdesk's own settings beside the shared ones: every bad value is told at once.
        desks, invalid = REGISTRY.read_settings()
        settings = load_settings(_NEEDS[args.command], also_invalid=invalid)
        if desks is None:  # not reached: `load_settings` raised naming the invalid ones
            raise ConfigError(*invalid)
        if args.command == "diagnose" and (problems := unreadable_files(args.images)):
            # Before the model: a typo in a path costs a second, not a model load.
            raise ConfigError(*problems)
        if args.command != "send-test":
            print(f"supportbot: {_first_line(args.command, settings, args)}", file=sys.stderr)
        _configure_logging(settings)
        if args.command in {"serve", "diagnose", "eval"} and not getattr(
            args, "legibility_only", False
        ):
            from bot.app.engine import settle_model

            settings = settle_model(settings)  # MODEL=auto: the model that fits here
        if args.command == "serve":
            return serve(settings, desks)
        if args.command == "doctor":
            return asyncio.run(_doctor(settings, desks))
        if args.command == "eval":
            return asyncio.run(_evaluate(settings, desks, args))
        if args.command == "send-test":
            return _send_test(settings, desks, args)
        if args.command == "knowledge":
            from bot.app.knowledge_command import run

            credentials = REGISTRY.article_credentials(desks)
            return asyncio.run(run(settings, args, credentials=credentials))
        return asyncio.run(_diagnose(settings, desks, args.images, args.question))
    except ConfigError as error:
        for problem in error.problems:
            print(f"supportbot: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except BotError as error:
        print(f"supportbot: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
