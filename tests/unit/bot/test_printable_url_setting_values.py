"""A URL setting (a model server, Redis) is shown without its credentials, whatever it holds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.printable_urls import printable_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://u:p@vllm:8000/x?y=1", "http://vllm:8000/x?y=1"),
        ("http://u@[::1]:8000", "http://[::1]:8000"),
        ("http://vllm:8000", "http://vllm:8000"),
        ("http://:p@vllm:8000", "http://vllm:8000"),
        ("http://u:p@vllm:8000@evil/a@b", "http://evil/a@b"),  # userinfo ends at the last @
        ("http://vllm:8000/path?next=a@b", "http://vllm:8000/path?next=a@b"),  # not userinfo
        # urlsplit raises on these; the address is still shown, and the secret still is not.
        ("http://u:s3cret@vllm:abc/x", "http://vllm:abc/x"),
        ("http://u:s3cret@[::1/x", "http://[::1/x"),
        ("http://u:s3cret@vllm:99999", "http://vllm:99999"),
        ("u:s3cret@vllm:8000/v1", "vllm:8000/v1"),
    ],
)
def test_the_userinfo_goes_and_everything_else_stays(url: str, shown: str) -> None:
    assert printable_url(url) == shown


_PART = st.text(st.characters(codec="ascii", exclude_characters="/?#@"), max_size=12)


@given(user=_PART, password=_PART, host=_PART, tail=st.text(max_size=20))
def test_no_password_survives_in_any_url(user: str, password: str, host: str, tail: str) -> None:
    secret = f"S3CRET{password}"
    url = f"http://{user}:{secret}@{host}/{tail}"
    shown = printable_url(url)
    assert shown == f"http://{host}/{tail}"
    assert secret not in shown.split("/", 3)[2]  # not in the netloc


@given(st.text(max_size=60))
def test_it_never_raises_and_leaves_no_userinfo_behind(url: str) -> None:
    shown = printable_url(url)
    # Idempotent: an "@" left in the netloc would be stripped by a second pass.
    assert printable_url(shown) == shown
