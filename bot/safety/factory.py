"""Build the guards from `Settings`, each once: the redactor, the reply filter, the image checks."""

from __future__ import annotations

import logging

from bot.safety.filters import RedactingFilter, ReplyFilter
from bot.safety.image_checks import ImageInspector
from bot.safety.links import LinkGuard
from bot.safety.redaction import RedactionStats, Redactor
from bot.safety.sensitive_words import SensitiveWords
from bot.safety.virus_scan import ClamdScanner
from bot.settings import Settings

log = logging.getLogger(__name__)


def build_redactor(settings: Settings, stats: RedactionStats | None = None) -> Redactor:
    """Secrets, personal data and the operator's sensitive words (`SENSITIVE_WORDS_FILE`)."""
    words = None
    if settings.sensitive_words_file is not None:
        words = SensitiveWords.from_file(settings.sensitive_words_file)
        log.info("loaded %d sensitive words", words.count)
    return Redactor(words=words, stats=stats)


def build_reply_filter(settings: Settings, redactor: Redactor) -> ReplyFilter:
    """What every answer passes through before anyone sees it: redaction, then links."""
    return RedactingFilter(redactor, links=LinkGuard(settings.link_allowed_hosts))


def build_inspector(settings: Settings) -> ImageInspector:
    """Image checks, with clamd scanning first when `CLAMD_ADDRESS` is set."""
    scanner = ClamdScanner(settings.clamd_address) if settings.clamd_address else None
    return ImageInspector(
        max_pixels=settings.max_decode_pixels, scanner=scanner, fail_open=settings.clamd_fail_open
    )
