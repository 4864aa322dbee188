"""Every URL the bot prints loses its user information (`user:password@`)."""

from __future__ import annotations

import string
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.printable_urls import printable_url, without_userinfo
from tests.unit.bot.safety.search import examples

# What may stand in user information unescaped (RFC 3986 3.2.1), `@` included for
# parsers that take the last one.
_USERINFO_CHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=%:@"
_HOST = st.from_regex(r"[a-z][a-z0-9-]{0,12}(\.[a-z]{2,6}){0,2}(:[0-9]{2,5})?", fullmatch=True)
_PATH = st.from_regex(r"(/[a-z0-9._~%-]{0,8}){0,3}(\?[a-z0-9=&]{0,10})?", fullmatch=True)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:S3cretRedisPw@cache:6379/0", "redis://cache:6379/0"),
        ("http://svc:EngineUrlPw123@engine:8000", "http://engine:8000"),
        ("https://user@slack.example/api/", "https://slack.example/api/"),
        ("http://a:b@c@host/x", "http://host/x"),
        ("unix://:pw@/run/redis.sock", "unix:///run/redis.sock"),
        ("https://slack.com/api/", "https://slack.com/api/"),
        ("http://host/path@not-userinfo", "http://host/path@not-userinfo"),
    ],
)
def test_user_information_is_removed(url: str, shown: str) -> None:
    assert printable_url(url) == shown


@settings(max_examples=examples(200), deadline=None)
@given(
    st.sampled_from(["http", "https", "redis", "rediss", "postgres", "amqp"]),
    st.text(_USERINFO_CHARS, max_size=12),
    st.text(_USERINFO_CHARS, min_size=1, max_size=24).map(lambda s: "PW" + s),
    _HOST,
    _PATH,
    st.sampled_from(["", "unreachable: ", "got '"]),
)
def test_no_password_survives_in_any_printed_url(
    scheme: str, user: str, password: str, host: str, path: str, before: str
) -> None:
    text = f"{before}{scheme}://{user}:{password}@{host}{path} then"
    shown = without_userinfo(text)
    assert shown == f"{before}{scheme}://{host}{path} then"
    assert password not in shown


@settings(max_examples=examples(100), deadline=None)
@given(st.text(string.printable.replace("@", "").replace("/", ""), max_size=200))
def test_text_without_user_information_is_unchanged(text: str) -> None:
    assert without_userinfo(text) == text


def test_it_is_linear_in_its_input() -> None:
    text = ("//a@" * 10_000)[:40_000] + " " + ("//" + "a" * 20) * 2_000
    started = time.process_time()
    without_userinfo(text)
    assert time.process_time() - started < 1.0
