"""Find secrets and personal data in text and replace them, counting each kind.

Used on everything that leaves the bot or is kept: answers (through the reply
filter), log lines and stored thread history.

Patterns run on folded views of the text (`bot.safety.normalised`: invisible
characters dropped, full width folded, `%XX` decoded, a token cut by a line
break joined) and each finding is mapped back to the span of the original text,
so a disguised secret is replaced whole, disguise included.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from bot.safety.normalised import Folded, fold
from bot.safety.sensitive_words import SensitiveWords


class Kind(StrEnum):
    """What was found; counted for metrics (the value itself is never recorded)."""

    AWS_KEY = "aws_key"
    SLACK_TOKEN = "slack_token"
    SLACK_WEBHOOK = "slack_webhook"
    SLACK_FILE_LINK = "slack_file_link"
    GITHUB_TOKEN = "github_token"
    PRIVATE_KEY = "private_key"
    JWT = "jwt"
    URL_PASSWORD = "url_password"
    ASSIGNED_SECRET = "assigned_secret"
    EMAIL = "email"
    PHONE = "phone"
    CARD = "card_number"
    SENSITIVE_WORD = "sensitive_word"
    LINK = "link"


@dataclass(frozen=True)
class Finding:
    """A span of text to replace, and with what."""

    kind: Kind
    start: int
    end: int
    replacement: str
    context_start: int = -1  # where the text the pattern needed begins (<= start)

    @property
    def needs_from(self) -> int:
        return self.start if self.context_start < 0 else self.context_start


def placeholder(kind: Kind) -> str:
    return f"[redacted {kind.value.replace('_', ' ')}]"


# Patterns whose whole match is the secret.
_WHOLE: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (
        Kind.PRIVATE_KEY,
        re.compile(
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----"
            r".*?(?:-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\Z)",
            re.DOTALL | re.IGNORECASE,
        ),
    ),
    (
        Kind.SLACK_WEBHOOK,
        re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"),
    ),
    (
        Kind.SLACK_FILE_LINK,
        re.compile(
            r"https://(?:files\.slack\.com|[a-z0-9-]+\.slack\.com)/files-(?:pri|tmb)/[^\s<>|)\]]+"
        ),
    ),
    (Kind.SLACK_TOKEN, re.compile(r"(?<![A-Za-z0-9])xox[abposre]-[A-Za-z0-9-]{8,}")),
    (Kind.SLACK_TOKEN, re.compile(r"(?<![A-Za-z0-9])xapp-[A-Za-z0-9-]{8,}")),
    (
        Kind.AWS_KEY,
        re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}"),
    ),
    (Kind.GITHUB_TOKEN, re.compile(r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{20,}")),
    (Kind.GITHUB_TOKEN, re.compile(r"(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{20,}")),
    (
        Kind.JWT,
        re.compile(r"(?<![A-Za-z0-9])eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),
    ),
    (Kind.EMAIL, re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
)

# Values that say something about a secret without being one ("using password: YES",
# "password=undefined" when it is missing).
NOT_SECRET_VALUES = (
    "yes",
    "no",
    "true",
    "false",
    "null",
    "none",
    "nil",
    "required",
    "empty",
    "undefined",
)

_SECRET_NAME = (
    r"\b(?:[a-z0-9_-]*(?:password|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?key|"
    r"auth[_-]?token|access[_-]?token|refresh[_-]?token|private[_-]?key|token))"
)

# Patterns where only the named group `secret` is replaced (the key name stays readable).
_PARTIAL: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (
        Kind.URL_PASSWORD,
        re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]*:(?P<secret>[^\s@/]+)@", re.IGNORECASE),
    ),
    # `password=…`, `API_KEY="…"`, `token: '…'`: any value. Words that say something
    # about a secret without being one ("using password: YES") are left alone, as
    # are values already redacted.
    (
        Kind.ASSIGNED_SECRET,
        re.compile(
            _SECRET_NAME + r"\s{0,3}(?:=\s{0,3}[\"']?|:\s{0,3}[\"'])"
            rf"(?!(?:{'|'.join(NOT_SECRET_VALUES)}|\*+)(?![^\s\"'&,;<>)]))"
            r"(?P<secret>(?!\[redacted)[^\s\"'&,;<>)]{3,})",
            re.IGNORECASE,
        ),
    ),
    # `password: s3cret!` (YAML, prose): only a value with a digit or symbol in it, so
    # "token: Cannot connect" stays readable.
    (
        Kind.ASSIGNED_SECRET,
        re.compile(
            _SECRET_NAME + r"\s{0,3}:\s{0,3}"
            r"(?P<secret>(?!\[redacted)(?=[^\s\"'&,;<>)]*[^a-z\s\"'&,;<>)])[^\s\"'&,;<>)]{4,})",
            re.IGNORECASE,
        ),
    ),
)

# A run of digit groups that may hold a card number somewhere inside it.
_DIGIT_RUN = re.compile(r"\d+(?:[ -]\d+)*")
_CARD_PREFIX = re.compile(r"3[47]|4|5[1-5]|2[2-7]|6|3[0568]")
_PHONE = re.compile(
    r"(?<![\w+.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)|\d{1,4})(?:[ .-]\d{2,5}){2,4}(?![\w.-]\d)"
    r"|(?<![\w+])\+\d{9,15}(?!\d)"
)
# A mainland-China mobile number: 11 digits starting 13-19, bare or as 3-4-4, maybe +86.
_CN_MOBILE = re.compile(r"(?<![\w+.-])(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?![\w.-]?\d)")

_PRECEDENCE = {Kind.URL_PASSWORD: 0, Kind.LINK: 2}

# A redaction never needs more context than this after a whitespace to be sure
# nothing spanning it is a secret (phone and card numbers, `key = value`).
SAFE_CONTEXT = 64


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_numbers(text: str) -> Iterator[tuple[int, int]]:
    """Spans of Luhn-valid card numbers (13-19 digits, known prefixes), whole groups only.

    Each digit group of a run may start a card, so "220 4000 0000 0000 0002" still
    finds the card after the unrelated "220".
    """
    for run in _DIGIT_RUN.finditer(text):
        groups = [
            (g.start() + run.start(), g.end() + run.start())
            for g in re.finditer(r"\d+", run.group())
        ]
        first = 0
        while first < len(groups):
            found = None
            # A card has at most 19 digits, so at most 19 groups: bounded work per start.
            for last in range(min(len(groups) - 1, first + 18), first - 1, -1):
                start, end = groups[first][0], groups[last][1]
                digits = re.sub(r"\D", "", text[start:end])
                if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn_valid(digits):
                    found = (start, end, last)
                    break
            if found is None:
                first += 1
                continue
            yield found[0], found[1]
            first = found[2] + 1


def _is_phone(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    if not 9 <= len(digits) <= 15:
        return False
    if text.startswith("+") or "(" in text:
        return True
    # Without a country code or area-code brackets, insist on phone-like groups
    # (415-555-2671), so dates, times, versions and IP addresses are left alone.
    groups = re.findall(r"\d+", text)
    return len(groups) >= 3 and all(len(g) >= 3 for g in groups[1:]) and len(groups[-1]) >= 4


class RedactionStats:
    """Counts of what was redacted, by kind. Safe to share between threads."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, kind: Kind) -> None:
        with self._lock:
            self._counts[kind.value] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class Redactor:
    """Finds what must not be shown and replaces it.

    Args:
        words: the operator's sensitive-word list, if any.
        stats: where each redaction is counted.
        extra: more finders (the reply filter adds its link guard).

    Example:
        >>> Redactor().redact("mail alice@example.com")
        'mail [redacted email]'
    """

    def __init__(
        self,
        *,
        words: SensitiveWords | None = None,
        stats: RedactionStats | None = None,
        extra: tuple[Callable[[str], Iterator[Finding]], ...] = (),
    ) -> None:
        self.words = words
        self.stats = stats or RedactionStats()
        self.extra = extra
        self.safe_context = SAFE_CONTEXT + (words.longest if words else 0)

    def findings(self, text: str) -> list[Finding]:
        """Non-overlapping findings in `text`, in order; the longer one wins an overlap."""
        # At one position: a URL password beats the e-mail it resembles (user:pw@host),
        # any secret beats a link, then the longer finding beats the shorter.
        found = sorted(
            self._all_findings(text),
            key=lambda f: (f.start, _PRECEDENCE.get(f.kind, 1), -(f.end - f.start)),
        )
        kept: list[Finding] = []
        for finding in found:
            if kept and finding.start < kept[-1].end:
                continue
            kept.append(finding)
        return kept

    def redact(self, text: str, *, count: bool = True) -> str:
        return self.apply(text, self.findings(text), count=count)

    def apply(self, text: str, findings: list[Finding], *, count: bool = True) -> str:
        out: list[str] = []
        position = 0
        for finding in findings:
            out.append(text[position : finding.start])
            out.append(finding.replacement)
            position = finding.end
            if count:
                self.stats.record(finding.kind)
        out.append(text[position:])
        return "".join(out)

    def _all_findings(self, text: str) -> Iterator[Finding]:
        plain = fold(text)
        yield from self._view_findings(plain, numbers=True)
        decoded = fold(text, percent=True)
        if decoded.text != plain.text:
            yield from self._view_findings(decoded, numbers=True)
        # Tokens cut by a line break, joined. Numbers are not looked for here: joining
        # the lines of a table of numbers would make up card and phone numbers.
        joined = fold(text, percent=True, join_lines=True)
        if joined.text != decoded.text:
            yield from self._view_findings(joined, numbers=False)
        if self.words is not None:
            for start, end in self.words.spans(text):
                yield Finding(Kind.SENSITIVE_WORD, start, end, placeholder(Kind.SENSITIVE_WORD))

    def _view_findings(self, view: Folded, *, numbers: bool) -> Iterator[Finding]:
        """Findings in a folded view, with their spans mapped back to the original text."""
        for finding in self._text_findings(view.text, numbers=numbers):
            if finding.end <= finding.start:
                continue
            start, end = view.span(finding.start, finding.end)
            context = -1
            if finding.context_start >= 0:
                context = view.starts[finding.context_start]
            yield Finding(finding.kind, start, end, finding.replacement, context)

    def _text_findings(self, text: str, *, numbers: bool) -> Iterator[Finding]:
        for kind, pattern in _WHOLE:
            for match in pattern.finditer(text):
                yield Finding(kind, match.start(), match.end(), placeholder(kind))
        for kind, pattern in _PARTIAL:
            for match in pattern.finditer(text):
                yield Finding(
                    kind,
                    match.start("secret"),
                    match.end("secret"),
                    placeholder(kind),
                    match.start(),
                )
        if numbers:
            for start, end in card_numbers(text):
                yield Finding(Kind.CARD, start, end, placeholder(Kind.CARD))
            for match in _PHONE.finditer(text):
                if _is_phone(match.group()):
                    yield Finding(Kind.PHONE, match.start(), match.end(), placeholder(Kind.PHONE))
            for match in _CN_MOBILE.finditer(text):
                yield Finding(Kind.PHONE, match.start(), match.end(), placeholder(Kind.PHONE))
        for finder in self.extra:
            yield from finder(text)

    @staticmethod
    def open_private_key(text: str) -> int | None:
        """Where an unfinished private key block starts, if one does (streaming holds it back)."""
        view = fold(text)
        begins = [m.start() for m in re.finditer("-----begin", view.text, re.IGNORECASE)]
        if not begins:
            return None
        begin = begins[-1]
        after = view.text[begin:]
        if not re.search("private key", after[:60], re.IGNORECASE) and len(after) > 60:
            return None
        return None if re.search("-----end", after, re.IGNORECASE) else view.starts[begin]
