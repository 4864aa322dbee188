"""Links in answers: only allowed hosts stay clickable, however the link is dressed up."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.safety.filters import RedactingFilter
from bot.safety.links import LinkGuard
from bot.safety.redaction import Redactor
from tests.unit.bot.safety.search import examples

GUARD = LinkGuard(["docs.python.org"])


def _shown(text: str) -> str:
    stream = RedactingFilter(Redactor(), links=GUARD).open()
    return stream.feed(text) + stream.finish()


@pytest.mark.parametrize(
    "link",
    [
        "www.evil.example/c?d=thread-data",
        "WWW.evil.example/c?d=thread-data",
        "evil.example/c?d=thread-data",
        "https://evil.example\\@docs.python.org/c?d=thread-data",
        "https://docs.python.org@evil.example/c?d=thread-data",
        "https://docs.python.org:x@evil.example/c?d=thread-data",
        "https://docs.python.org%2eevil.example/c?d=thread-data",
        "https://docs.python.org.evil.example/c?d=thread-data",
        "https://evil.example\\docs.python.org/c?d=thread-data",
        "\uff48\uff54\uff54\uff50\uff53://evil.example/c?d=thread-data",  # full width
        "https://evil\u200b.example/c?d=thread-data",
        "https://evil.example/c?d=thread-data#docs.python.org",
        "//evil.example/c?d=thread-data",  # protocol-relative
        "//EVIL.example:8080/c?d=thread-data",
        "//docs.python.org@evil.example/c?d=thread-data",
    ],
)
def test_disguised_links_are_neutralised(link: str) -> None:
    shown = _shown(f"See {link} for details")
    assert "thread-data" not in shown
    assert "evil.example" not in shown
    assert shown.startswith("See ") and shown.endswith(" for details")


@pytest.mark.parametrize(
    "link",
    [
        "https://docs.python.org/3/library/os.html",
        "https://DOCS.python.org/3/",
        "https://docs.python.org:443/3/",
        "http://docs.python.org./3/",
    ],
)
def test_allowed_links_stay(link: str) -> None:
    assert _shown(f"See {link} now") == f"See {link} now"


@pytest.mark.parametrize(
    "text",
    [
        'File "/usr/lib/python3.11/site-packages/requests/api.py", line 59, in get',
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='db', port=5432)",
        "at com.example.App.main(App.java:12)",
        "npm ERR! path /home/app/node_modules/left-pad/package.json",
        "see app/models.py and config/settings.yaml",
        "version 1.2.3/4",
    ],
)
def test_paths_and_dotted_names_are_not_links(text: str) -> None:
    assert _shown(text) == text


_HOST = st.from_regex(r"[a-z]{1,8}\.(example|test|invalid)", fullmatch=True)


@settings(max_examples=examples(200), deadline=None)
@given(
    _HOST,
    st.sampled_from(["https://", "http://", "HTTPS://", "www.", ""]),
    st.sampled_from(["", "docs.python.org@", "docs.python.org:pw@", "u@"]),
    st.text("abcdefghij/?=&%.", min_size=1, max_size=20),
)
def test_no_foreign_host_survives_in_any_dress(
    host: str, scheme: str, userinfo: str, path: str
) -> None:
    if scheme == "" and userinfo:
        scheme = "https://"
    link = f"{scheme}{userinfo}{host}/{path}"
    assert host not in _shown(f"go to {link} now")


@pytest.mark.parametrize(
    ("link", "shown"),
    [
        ("https://github.com/attacker?d=thread-data", "https://github.com/attacker"),
        ("github.com/attacker/repo?d=thread-data#x", "github.com/attacker/repo#x"),
        ("//github.com/attacker?d=thread-data", "//github.com/attacker"),
        ("https://github.com/a/b#L10?d=thread-data", "https://github.com/a/b"),
        ("https://docs.python.org/3/#" + "thread-data" * 8, "https://docs.python.org/3/"),
        ("https://github.com/a/b?d=thread-data#L10", "https://github.com/a/b#L10"),
        ("https://docs.python.org/3/library/re.html#re.sub", None),
        ("https://github.com/a/b/blob/main/x.py#L10-L20", None),
    ],
)
def test_an_allowed_link_loses_its_query_and_any_fragment_but_an_anchor(
    link: str, shown: str | None
) -> None:
    assert _shown_by_default(f"See {link} now") == f"See {shown or link} now"


@settings(max_examples=examples(200), deadline=None)
@given(
    st.sampled_from(
        ["https://github.com/", "docs.python.org/3/", "//pypi.org/", "www.github.com/"]
    ),
    st.text("abcdefghij/-", max_size=12),
    st.text("abcdefghij0123456789=&%.~/+-_", min_size=1, max_size=40),
    st.sampled_from(["?", "#", "?x=1#", "#a?"]),
)
def test_no_data_rides_an_allowed_link(base: str, path: str, data: str, mark: str) -> None:
    """Whatever follows `?` on an allowed link is gone; after `#`, only a short anchor stays."""
    payload = "thread-data" * 6  # longer than any anchor that is kept
    shown = _shown_by_default(f"go to {base}{path}{mark}{payload}{data} now")
    assert "thread-data" not in shown


def _shown_by_default(text: str) -> str:
    """Shown through the default allowlist (github.com, pypi.org, docs.python.org…)."""
    stream = RedactingFilter(Redactor(), links=LinkGuard()).open()
    return stream.feed(text) + stream.finish()
