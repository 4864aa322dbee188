"""The `supportbot` command: `serve` runs the bot, `diagnose` answers one screenshot locally."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.errors import BotError, ConfigError
from bot.settings import Settings, load_settings


def _configure_logging(settings: Settings) -> None:
    from bot.observability.log_format import configure_logging
    from bot.safety.factory import build_redactor
    from bot.settings import LogFormat

    configure_logging(
        level=settings.log_level.value,
        json_lines=settings.log_format is LogFormat.JSON,
        redactor=build_redactor(settings),
    )


def serve(settings: Settings) -> int:
    import uvicorn

    from bot.app import build_app

    supportbot = build_app(settings)
    mode = "Socket Mode and HTTP" if settings.socket_mode else "HTTP"
    logging.getLogger("bot.cli").info(
        "supportbot listening on %s:%d (%s), model %s",
        settings.host,
        settings.port,
        mode,
        settings.model_id,
    )
    # log_config=None: uvicorn's loggers go through the root handler, and its redaction.
    uvicorn.run(supportbot.asgi, host=settings.host, port=settings.port, log_config=None)
    return 0


async def _diagnose(settings: Settings, images: list[Path], question: str) -> int:
    from bot.app import build_engine
    from bot.attachments.fetching import LocalFileFetcher
    from bot.conversation.diagnosis import AnswerPiece, AttachmentsRead
    from bot.conversation.factory import build_diagnoser
    from bot.conversation.turns import AttachmentRef, ThreadKey, Turn
    from bot.safety.factory import build_inspector, build_redactor, build_reply_filter
    from bot.stores.history import InMemoryHistoryStore

    engine = build_engine(settings)
    await engine.start()
    redactor = build_redactor(settings)
    diagnoser = build_diagnoser(
        settings,
        engine=engine,
        history=InMemoryHistoryStore(),
        fetcher=LocalFileFetcher(
            max_bytes=settings.max_image_bytes, inspector=build_inspector(settings)
        ),
        redactor=redactor,
        reply_filter=build_reply_filter(settings, redactor),
    )
    turn = Turn(
        thread=ThreadKey("local", "terminal", "1"),
        user_id="local",
        text=question,
        message_ts="1",
        attachments=tuple(AttachmentRef(filename=path.name, url=str(path)) for path in images),
    )
    try:
        async for event in diagnoser.diagnose(turn):
            if isinstance(event, AttachmentsRead):
                for skipped in event.skipped:
                    print(f"skipped {skipped.filename}: {skipped.reason}", file=sys.stderr)
            elif isinstance(event, AnswerPiece):
                print(event.text, end="", flush=True)
        print()
    finally:
        await engine.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="supportbot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "serve", help="run the Slack bot (HTTP events, and Socket Mode with SLACK_APP_TOKEN)"
    )
    diagnose = commands.add_parser(
        "diagnose", help="diagnose screenshots in the terminal, no Slack"
    )
    diagnose.add_argument(
        "images", nargs="*", type=Path, help="screenshot files (PNG, JPEG, GIF, WebP)"
    )
    diagnose.add_argument("--question", "-q", default="", help="what to ask about them")
    args = parser.parse_args(argv)
    if args.command == "diagnose" and not args.images and not args.question:
        parser.error("give at least one screenshot or a --question")

    try:
        settings = load_settings()
        _configure_logging(settings)
        if args.command == "serve":
            return serve(settings)
        return asyncio.run(_diagnose(settings, args.images, args.question))
    except ConfigError as error:
        print(f"supportbot: {error}", file=sys.stderr)
        return 2
    except BotError as error:
        print(f"supportbot: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
