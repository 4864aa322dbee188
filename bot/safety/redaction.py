"""Find secrets and personal data in text and replace them, counting each kind.

Used on everything that leaves the bot or is kept: answers (through the reply
filter), log lines and stored thread history.

Patterns run on folded views of the text (`bot.safety.normalised`: invisible
characters dropped, full width folded, `%XX` decoded, a token cut by a line
break joined) and each finding is mapped back to the span of the original text,
so a disguised secret is replaced whole, disguise included.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
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
    WITHHELD = "withheld"


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
    if kind is Kind.WITHHELD:
        return "[withheld: too long to check]"
    return f"[redacted {kind.value.replace('_', ' ')}]"


# Patterns whose whole match is the secret.
_WHOLE: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (
        Kind.PRIVATE_KEY,
        re.compile(
            r"-----BEGIN[A-Z0-9 ]{0,40}?PRIVATE KEY(?: BLOCK)?-----"
            r".*?(?:-----END[A-Z0-9 ]{0,40}?PRIVATE KEY(?: BLOCK)?-----|\Z)",
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
            r"https://(?:files\.slack\.com|[a-z0-9-]++\.slack\.com)/files-(?:pri|tmb)/[^\s<>|)\]]+"
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
    # A JWT at the start of a run of token characters, any length; one after a `-` or `_`
    # inside a run with a header of at most 1 KB. One pattern for both would scan the
    # rest of the run from every `eyJ` in `-eyJ-eyJ-…`: quadratic.
    (
        Kind.JWT,
        re.compile(
            r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}+\.[A-Za-z0-9_-]{5,}+\.[A-Za-z0-9_-]{5,}"
        ),
    ),
    (
        Kind.JWT,
        re.compile(
            r"(?<![A-Za-z0-9])eyJ[A-Za-z0-9_-]{5,1024}+\.[A-Za-z0-9_-]{5,}+\.[A-Za-z0-9_-]{5,}"
        ),
    ),
    # The local part starts where a run of its characters starts, and no quantifier gives
    # anything back, so each character is looked at a bounded number of times.
    (
        Kind.EMAIL,
        re.compile(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++@[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)*"
            r"\.[A-Za-z]{2,}"
        ),
    ),
)

# The tokens above that must not start inside a longer word, as they are tried where a
# cut was joined (`line 10` + line break + `AKIA…` joins to `10AKIA…`, where the
# lookbehind would refuse the key). Lengths are capped, so each join costs bounded work.
_AT_JOIN: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (Kind.SLACK_TOKEN, re.compile(r"xox[abposre]-[A-Za-z0-9-]{8,}")),
    (Kind.SLACK_TOKEN, re.compile(r"xapp-[A-Za-z0-9-]{8,}")),
    (Kind.AWS_KEY, re.compile(r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}")),
    (Kind.GITHUB_TOKEN, re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}")),
    (Kind.GITHUB_TOKEN, re.compile(r"github_pat_[A-Za-z0-9_]{20,}")),
    (
        Kind.JWT,
        re.compile(r"eyJ[A-Za-z0-9_-]{5,1024}+\.[A-Za-z0-9_-]{5,4096}+\.[A-Za-z0-9_-]{5,}"),
    ),
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

# A key name: a whole run of name characters (taken once, never given back) that ends
# in one of the words. The earlier `\b[a-z0-9_-]*(?:password|…)` tried every position
# of a long run and backtracked through all of it from each: quadratic.
_NAME_ENDINGS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "api_key",
    "api-key",
    "apikey",
    "access_key",
    "access-key",
    "accesskey",
    "auth_token",
    "auth-token",
    "authtoken",
    "access_token",
    "access-token",
    "accesstoken",
    "refresh_token",
    "refresh-token",
    "refreshtoken",
    "private_key",
    "private-key",
    "privatekey",
    "token",
)
_SECRET_NAME = (
    r"(?<![a-z0-9_-])[a-z0-9_-]++(?:"
    + "|".join(f"(?<={re.escape(ending)})" for ending in _NAME_ENDINGS)
    + ")"
)

# Patterns where only the named group `secret` is replaced (the key name stays readable).
_PARTIAL: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (
        Kind.URL_PASSWORD,
        # Anchored on `//` alone (any scheme, or a protocol-relative `//user:pw@host`): a
        # scheme prefix scanned from every letter of a long run was quadratic.
        re.compile(r"//[^\s:/@]*+:(?P<secret>[^\s@/]++)@", re.IGNORECASE),
    ),
    # `password=…`, `API_KEY="…"`, `token: '…'`: any value. Words that say something
    # about a secret without being one ("using password: YES") are left alone, as
    # are values already redacted.
    (
        Kind.ASSIGNED_SECRET,
        re.compile(
            _SECRET_NAME + r"\s{0,3}(?:=\s{0,3}[\"']?|:\s{0,3}[\"'])"
            rf"(?!(?:{'|'.join(NOT_SECRET_VALUES)}|\*++)(?![^\s\"'&,;<>)]))"
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
            r"(?P<secret>(?!\[redacted)(?=[a-z]*+[^a-z\s\"'&,;<>)])[^\s\"'&,;<>)]{4,})",
            re.IGNORECASE,
        ),
    ),
)

# A run of digit groups that may hold a card number somewhere inside it.
_DIGIT_RUN = re.compile(r"[0-9]++(?:[ -][0-9]++)*+")
_CARD_PREFIX = re.compile(r"3[47]|4|5[1-5]|2[2-7]|6|3[0568]")
# Number boundaries are ASCII only: Python's `\w` and `\d` take in CJK characters and
# other scripts' digits, so `电话13812345678` read as one word and was never matched.
_PHONE = re.compile(
    r"(?<![A-Za-z0-9_+.-])(?:\+[0-9]{1,3}[ .-]?)?(?:\([0-9]{1,4}\)|[0-9]{1,4})"
    r"(?:[ .-][0-9]{2,5}){2,4}(?![A-Za-z0-9_.-][0-9])"
    r"|(?<![A-Za-z0-9_+])\+[0-9]{9,15}(?![0-9])"
)
# A mainland-China mobile number: 11 digits starting 13-19, bare or as 3-4-4, maybe +86.
_CN_MOBILE = re.compile(
    r"(?<![A-Za-z0-9_+.-])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}"
    r"(?![A-Za-z0-9_.-]?[0-9])"
)

_PRECEDENCE = {Kind.WITHHELD: -1, Kind.URL_PASSWORD: 0, Kind.LINK: 2}

# Bounds that fail closed. Every pattern is linear in its input (about 1-4 us a character
# on one core), so these never trip on what Slack (40,000 characters a message) or a text
# attachment (redacted whole up to 2 M characters) brings: text past `MAX_CHARS` is
# withheld, and text whose redaction overruns its deadline (a second plus `DEADLINE_PER_CHAR_S`
# a character, some ten times the linear cost) is withheld whole rather than shown.
MAX_CHARS = 2_000_000
# Above this, async callers redact on a worker thread: every regex call is then short,
# so the event loop gets the interpreter back between calls (a thread cannot help while
# one long backtracking call holds the GIL, which is why the patterns are linear first).
OFF_LOOP_CHARS = 2_000
DEADLINE_S = 1.0
DEADLINE_PER_CHAR_S = 20e-6

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
            for g in re.finditer(r"[0-9]++", run.group())
        ]
        first = 0
        while first < len(groups):
            found = None
            # A card has at most 19 digits: the groups from `first` are taken only while
            # they add up to 19 digits at most, so the work per start is bounded.
            ends: list[tuple[str, int, int]] = []
            digits = ""
            for last in range(first, len(groups)):
                digits += text[groups[last][0] : groups[last][1]]
                if len(digits) > 19:
                    break
                ends.append((digits, groups[last][1], last))
            for digits, end, last in reversed(ends):
                if len(digits) >= 13 and _CARD_PREFIX.match(digits) and luhn_valid(digits):
                    found = (groups[first][0], end, last)
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
        max_chars: text past this many characters is withheld, not checked.
        deadline_s: a redaction that takes longer than this (plus `DEADLINE_PER_CHAR_S` a
            character) withholds the whole text (fails closed).

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
        max_chars: int = MAX_CHARS,
        deadline_s: float = DEADLINE_S,
    ) -> None:
        self.words = words
        self.stats = stats or RedactionStats()
        self.extra = extra
        self.max_chars = max_chars
        self.deadline_s = deadline_s
        self.safe_context = SAFE_CONTEXT + (words.longest if words else 0)

    def findings(self, text: str) -> list[Finding]:
        """Non-overlapping findings in `text`, in order; the longer one wins an overlap."""
        # At one position: a URL password beats the e-mail it resembles (user:pw@host),
        # any secret beats a link, then the longer finding beats the shorter.
        checked, withheld = text, None
        if len(text) > self.max_chars:
            # Withhold from a whitespace well before the bound, so no secret is cut in two
            # with its first part shown; with no such whitespace, withhold it all.
            start = text.rfind(" ", 0, self.max_chars - self.safe_context) + 1
            checked = text[:start]
            withheld = Finding(Kind.WITHHELD, start, len(text), placeholder(Kind.WITHHELD))
        found = sorted(
            self._bounded_findings(checked),
            key=lambda f: (f.start, _PRECEDENCE.get(f.kind, 1), -(f.end - f.start)),
        )
        if withheld is not None:
            found.append(withheld)
        kept: list[Finding] = []
        for finding in found:
            if kept and finding.start < kept[-1].end:
                continue
            kept.append(finding)
        return kept

    def redact(self, text: str, *, count: bool = True) -> str:
        return self.apply(text, self.findings(text), count=count)

    async def redact_off_loop(self, text: str, *, count: bool = True) -> str:
        """`redact`, on a worker thread when `text` is long, so the event loop keeps going."""
        if len(text) <= OFF_LOOP_CHARS:
            return self.redact(text, count=count)
        return await asyncio.to_thread(self.redact, text, count=count)

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

    def _bounded_findings(self, text: str) -> list[Finding]:
        """All findings, or one withholding the whole text if finding them overran the deadline."""
        deadline = time.monotonic() + self.deadline_s + DEADLINE_PER_CHAR_S * len(text)
        found: list[Finding] = []
        for finding in self._all_findings(text):
            found.append(finding)
            if time.monotonic() >= deadline:
                return [Finding(Kind.WITHHELD, 0, len(text), placeholder(Kind.WITHHELD))]
        if text and time.monotonic() >= deadline:
            return [Finding(Kind.WITHHELD, 0, len(text), placeholder(Kind.WITHHELD))]
        return found

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
        for finding in self._text_findings(view.text, numbers=numbers, joins=view.joins):
            if finding.end <= finding.start:
                continue
            start, end = view.span(finding.start, finding.end)
            context = -1
            if finding.context_start >= 0:
                context = view.starts[finding.context_start]
            yield Finding(finding.kind, start, end, finding.replacement, context)

    def _text_findings(
        self, text: str, *, numbers: bool, joins: tuple[int, ...] = ()
    ) -> Iterator[Finding]:
        for kind, pattern in _WHOLE:
            for match in pattern.finditer(text):
                yield Finding(kind, match.start(), match.end(), placeholder(kind))
        for kind, pattern in _AT_JOIN:
            reached = 0
            for join in joins:
                if join < reached:
                    continue  # inside what this pattern already found: linear overall
                if (joined := pattern.match(text, join)) is not None:
                    reached = joined.end()
                    yield Finding(kind, joined.start(), joined.end(), placeholder(kind))
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
