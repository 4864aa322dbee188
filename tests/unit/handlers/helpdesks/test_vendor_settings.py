"""Helpdesk settings refuse a malformed API URL or account email at start-up, naming it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from handlers.helpdesks.registry import REGISTRY

BAD = [
    ("zendesk_url", "acme.zendesk.com"),  # no scheme: httpx would take it as a path
    ("zendesk_url", "ftp://acme.zendesk.com"),
    ("zendesk_url", "https://agent:secret@acme.zendesk.com"),  # credentials in the URL
    ("jira_url", "https://acme.atlassian.net/?next=/x"),
    ("jira_url", "https://acme.atlassian.net#top"),
    ("jira_url", "https://acme.atlassian.net:0"),
    ("intercom_url", "https://"),
    ("zendesk_email", "support"),
    ("zendesk_email", "agent@localhost"),
    ("jira_email", "@acme.com"),
    ("jira_email", "a:b@acme.com"),  # a colon would split the Basic credentials
    ("zendesk_email", "agent @acme.com"),
]


@pytest.mark.parametrize(("field", "value"), BAD)
def test_a_malformed_url_or_email_is_refused_naming_its_setting(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        REGISTRY.settings(_env_file=None, **{field: value})


def test_a_bad_value_in_the_environment_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.chdir(str(tmp_path))  # no .env from the checkout
    monkeypatch.setenv("ZENDESK_URL", "acme.zendesk.com")
    monkeypatch.setenv("JIRA_EMAIL", "agent")

    found, problems = REGISTRY.read_settings()

    assert found is None
    assert len(problems) == 2
    assert any("ZENDESK_URL" in line for line in problems)
    assert any("JIRA_EMAIL" in line for line in problems)


def test_the_usual_values_are_kept_as_given() -> None:
    own = REGISTRY.settings(
        _env_file=None,
        zendesk_url="https://acme.zendesk.com",
        zendesk_email="support@acme.com",
        jira_url="http://127.0.0.1:8080",
        jira_email="bot+jira@acme.co.uk",
    )
    zendesk, jira = own["zendesk"], own["jira"]
    assert zendesk.zendesk_url == "https://acme.zendesk.com"  # type: ignore[attr-defined]
    assert zendesk.zendesk_email == "support@acme.com"  # type: ignore[attr-defined]
    assert jira.jira_url == "http://127.0.0.1:8080"  # type: ignore[attr-defined]
    assert own["intercom"].intercom_url == "https://api.intercom.io"  # type: ignore[attr-defined]


_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8)


@st.composite
def _urls(draw: st.DrawFn) -> tuple[str, bool]:
    """A URL built from parts, and whether it is a bare http(s) base URL."""
    scheme = draw(st.sampled_from(["http", "https", "ftp", "HTTPS", ""]))
    user = draw(st.sampled_from(["", "agent@", "agent:secret@"]))
    host = ".".join(draw(st.lists(_LABEL, min_size=0, max_size=3)))
    port = draw(st.sampled_from(["", ":8080", ":0", ":99999", ":x"]))
    path = draw(st.sampled_from(["", "/", "/api/v2"]))
    query = draw(st.sampled_from(["", "?a=1"]))
    fragment = draw(st.sampled_from(["", "#top"]))
    url = f"{scheme}://{user}{host}{port}{path}{query}{fragment}" if scheme else f"{host}{path}"
    bare = (
        scheme.lower() in {"http", "https"}
        and bool(host)
        and not user
        and port in {"", ":8080"}
        and not query
        and not fragment
    )
    return url, bare


@given(_urls())
def test_a_url_is_kept_exactly_when_it_is_a_bare_http_base_url(case: tuple[str, bool]) -> None:
    url, bare = case
    try:
        REGISTRY.settings(_env_file=None, zendesk_url=url)
        kept = True
    except ValidationError:
        kept = False
    assert kept == bare, url


@given(st.text(max_size=40))
def test_every_email_accepted_has_a_name_a_domain_and_no_colon_or_space(value: str) -> None:
    try:
        own = REGISTRY.settings(_env_file=None, jira_email=value)
    except ValidationError:
        return
    email = own["jira"].jira_email  # type: ignore[attr-defined]
    name, _, domain = email.rpartition("@")
    assert name and "." in domain and ":" not in email
    assert not any(c.isspace() for c in email)
