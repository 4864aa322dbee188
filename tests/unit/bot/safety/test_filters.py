"""The reply filter as the stream sees it: any secret, split anywhere, is never shown."""

from __future__ import annotations

import itertools
import string

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.safety.filters import RedactingFilter
from bot.safety.links import LinkGuard
from bot.safety.redaction import NOT_SECRET_VALUES, Redactor
from bot.safety.sensitive_words import SensitiveWords
from tests.unit.bot.safety.search import examples

_UPPER_DIGITS = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits


def _luhn_complete(body: str) -> str:
    for check in string.digits:
        digits = body + check
        total = sum(
            (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d
            for i, d in enumerate(int(c) for c in reversed(digits))
        )
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


# Each strategy yields (text to place, the part that must never be shown).
def _whole(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
    return strategy.map(lambda secret: (secret, secret))


SECRETS = st.one_of(
    _whole(st.text(_UPPER_DIGITS, min_size=16, max_size=16).map(lambda s: "AKIA" + s)),
    _whole(
        st.builds(
            lambda p, s: f"xox{p}-{s}",
            st.sampled_from("bpe"),
            st.text(_ALNUM + "-", min_size=12, max_size=40),
        )
    ),
    _whole(st.text(_ALNUM, min_size=20, max_size=40).map(lambda s: "xapp-1-" + s)),
    _whole(
        st.builds(
            lambda p, s: f"gh{p}_{s}",
            st.sampled_from("pousr"),
            st.text(_ALNUM, min_size=36, max_size=36),
        )
    ),
    _whole(st.text(_ALNUM + "_", min_size=40, max_size=60).map(lambda s: "github_pat_" + s)),
    _whole(
        st.text(_ALNUM, min_size=24, max_size=24).map(
            lambda s: f"https://hooks.slack.com/services/T0{s[:6]}/B0{s[6:12]}/{s[12:]}"
        )
    ),
    _whole(
        st.text(_ALNUM, min_size=10, max_size=30).map(
            lambda s: f"https://files.slack.com/files-pri/T01-F02/{s}.png"
        )
    ),
    _whole(
        st.tuples(*(st.text(_ALNUM + "_-", min_size=10, max_size=30) for _ in range(3))).map(
            lambda p: f"eyJ{p[0]}.{p[1]}.{p[2]}"
        )
    ),
    st.text(_ALNUM, min_size=40, max_size=120).map(
        lambda s: (
            f"-----BEGIN RSA PRIVATE KEY-----\n{s[:40]}\n{s[40:]}\n-----END RSA PRIVATE KEY-----",
            s[:40],
        )
    ),
    st.text(_ALNUM, min_size=8, max_size=20).map(
        lambda pw: (f"postgres://app:{pw}@db.internal:5432/app", pw)
    ),
    st.builds(
        lambda k, pw: (f"{k}={pw}", pw),
        st.sampled_from(["password", "DB_PASSWORD", "secret", "api_key", "apiKey", "token"]),
        st.text(_ALNUM, min_size=8, max_size=24),
    ),
    _whole(
        st.builds(
            lambda u, d: f"{u}@{d}.com",
            st.text(string.ascii_lowercase, min_size=3, max_size=12),
            st.text(string.ascii_lowercase, min_size=3, max_size=12),
        )
    ),
    _whole(
        st.builds(
            lambda a, b, c: f"+1 {a} {b} {c}",
            st.integers(200, 999),
            st.integers(200, 999),
            st.integers(1000, 9999),
        ).map(str)
    ),
    _whole(
        st.builds(
            lambda body, sep: sep.join(
                [_luhn_complete("4" + body)[i : i + 4] for i in range(0, 16, 4)]
            ),
            st.text(string.digits, min_size=14, max_size=14),
            st.sampled_from([" ", "-", ""]),
        )
    ),
)

FILLER = st.text(string.ascii_letters + string.digits + " .,:;!?()\n-_/'\"#", max_size=200)
SEPARATORS = st.sampled_from([" ", "\n", "\t", " (", ": ", "\n\n", ' "'])


def _stream(text: str, cuts: list[int], filter_: RedactingFilter) -> list[str]:
    stream = filter_.open()
    bounds = [0, *sorted({c % (len(text) + 1) for c in cuts}), len(text)]
    shown = [stream.feed(text[a:b]) for a, b in itertools.pairwise(bounds)]
    return [*shown, stream.finish()]


@settings(max_examples=examples(400), deadline=None)
@given(
    SECRETS, FILLER, FILLER, SEPARATORS, SEPARATORS, st.lists(st.integers(0, 10_000), max_size=40)
)
def test_a_secret_anywhere_split_anywhere_is_never_shown(
    secret: tuple[str, str], before: str, after: str, left: str, right: str, cuts: list[int]
) -> None:
    placed, hidden = secret
    assume(hidden not in before and hidden not in after)
    assume(hidden.lower() not in NOT_SECRET_VALUES)  # "password=undefined" is no secret
    text = before + left + placed + right + after
    filter_ = RedactingFilter(Redactor(), links=LinkGuard())
    pieces = _stream(text, cuts, filter_)
    shown = ""
    for piece in pieces:
        shown += piece  # every intermediate update is a prefix of the final text
        assert hidden not in shown
    assert filter_.redactor.stats.snapshot(), "the redaction was counted"


@settings(max_examples=examples(200), deadline=None)
@given(FILLER, st.lists(st.integers(0, 10_000), max_size=40))
def test_harmless_text_comes_through_whole_and_in_order(text: str, cuts: list[int]) -> None:
    assume(not Redactor().findings(text))
    assert "".join(_stream(text, cuts, RedactingFilter(Redactor()))) == text


def test_released_text_is_never_taken_back() -> None:
    stream = RedactingFilter(Redactor()).open()
    first = stream.feed("Restart the service. " * 10)
    assert first and first.startswith("Restart")
    rest = stream.feed("then the key AKIAIOSFODNN7EXAMPLE") + stream.finish()
    assert "AKIAIOSFODNN7EXAMPLE" not in first + rest
    assert (first + rest).startswith(first)


def test_foreign_links_are_neutralised_and_allowed_ones_kept() -> None:
    stream = RedactingFilter(Redactor(), links=LinkGuard(["docs.python.org"])).open()
    text = (
        "See https://docs.python.org/3/library/os.html or https://evil.example/c?d=thread-data now"
    )
    shown = stream.feed(text) + stream.finish()
    assert "https://docs.python.org/3/library/os.html" in shown
    assert "evil.example" not in shown and "thread-data" not in shown
    assert "evil[.]example/…" in shown


def test_sensitive_words_are_redacted_ignoring_case_and_width() -> None:
    words = SensitiveWords(["project phoenix", "内部代号"])
    stream = RedactingFilter(Redactor(words=words)).open()
    full_width = "".join(chr(ord(char) + 0xFEE0) for char in "Phoenix")
    shown = stream.feed(f"This is PROJECT {full_width}, 也叫内部代号。") + stream.finish()
    assert "PROJECT" not in shown and full_width not in shown and "内部代号" not in shown
