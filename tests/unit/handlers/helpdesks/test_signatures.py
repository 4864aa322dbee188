from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from handlers.helpdesks.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[4]

BODY = b'{"ticket": {"id": 1}}'


def test_githubs_published_sha256_example_verifies() -> None:
    # docs.github.com, "Validating webhook deliveries"
    headers = {
        "X-Hub-Signature": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    }
    assert REGISTRY.verify("jira", "It's a Secret to Everybody", b"Hello, World!", headers)


def test_zendesk_signs_timestamp_plus_body_in_base64() -> None:
    # base64(HMAC-SHA256("secret", "2024-01-01T00:00:00Z" + "{}")), from Python's hmac directly
    headers = {
        "X-Zendesk-Webhook-Signature": "YI9gyI/qRuEv/iS5IsFrpJtrEg9LxRWL2hEkFimh/rg=",
        "X-Zendesk-Webhook-Signature-Timestamp": "2024-01-01T00:00:00Z",
    }
    assert REGISTRY.sign("zendesk", "secret", b"{}", "2024-01-01T00:00:00Z") == headers
    assert REGISTRY.verify("zendesk", "secret", b"{}", headers, now=1704067200 + 60)
    assert not REGISTRY.verify("zendesk", "secret", b"{}", headers, now=1704067200 + 3600), "stale"


def test_intercom_uses_sha1_of_the_body() -> None:
    # hex HMAC-SHA1("secret", BODY), from Python's hmac directly
    headers = {"X-Hub-Signature": "sha1=826872bf0b15817f10bd9d1acbe5915a0bf19228"}
    assert REGISTRY.verify("intercom", "secret", BODY, headers)
    assert REGISTRY.sign("intercom", "secret", BODY) == headers


SIGNED = [p for p in REGISTRY.routes if p != "jira-automation"]


@pytest.mark.parametrize("provider", SIGNED)
def test_each_scheme_refuses_wrong_missing_and_tampered(provider: str) -> None:
    stamp = str(int(time.time()))
    if provider == "zendesk":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    good = REGISTRY.sign(provider, "secret", BODY, stamp)
    assert REGISTRY.verify(provider, "secret", BODY, good)
    assert not REGISTRY.verify(provider, "other-secret", BODY, good)
    assert not REGISTRY.verify(provider, "secret", BODY + b" ", good)
    assert not REGISTRY.verify(provider, "secret", BODY, {})


def test_generic_scheme_rejects_stale_and_malformed_timestamps() -> None:
    old = str(int(time.time()) - 600)
    assert not REGISTRY.verify("generic", "s", BODY, REGISTRY.sign("generic", "s", BODY, old))
    bad = REGISTRY.sign("generic", "s", BODY, "soon")
    assert not REGISTRY.verify("generic", "s", BODY, bad)


def test_jira_automation_is_let_in_by_its_token_header_only() -> None:
    # "Send web request" cannot sign; the admin adds the header (marked Hidden).
    # https://support.atlassian.com/cloud-automation/docs/jira-automation-actions/
    # The timestamp is the rule's `{{now}}`, as Jira renders it.
    # https://support.atlassian.com/cloud-automation/docs/jira-smart-values-date-and-time/
    now = time.strftime("%Y-%m-%dT%H:%M:%S.0+0000", time.gmtime())
    good = {"X-Supportbot-Token": "s3cret", "X-Supportbot-Timestamp": now}
    assert REGISTRY.sign("jira-automation", "s3cret", BODY, now) == good
    assert REGISTRY.verify("jira-automation", "s3cret", BODY, good)
    lower = {"x-supportbot-token": "s3cret", "x-supportbot-timestamp": now}
    assert REGISTRY.verify("jira-automation", "s3cret", BODY, lower)
    assert REGISTRY.verify(
        "jira-automation",
        "s3cret",
        BODY,
        good | {"X-Supportbot-Timestamp": str(int(time.time()))},
    )
    for headers in (
        {},
        {"X-Supportbot-Token": "", "X-Supportbot-Timestamp": now},
        {"X-Supportbot-Token": "s3cre", "X-Supportbot-Timestamp": now},
        {"X-Supportbot-Token": "s3cret ", "X-Supportbot-Timestamp": now},
        {"X-Supportbot-Token": "é", "X-Supportbot-Timestamp": now},
        {"Authorization": "Bearer s3cret", "X-Supportbot-Timestamp": now},
    ):
        assert not REGISTRY.verify("jira-automation", "s3cret", BODY, headers), headers


def test_a_jira_automation_delivery_replayed_later_is_refused_for_its_age() -> None:
    # Token-only deliveries carry no signature; the timestamp bounds how long a captured one
    # stays usable, whether or not the bot still remembers its job.
    stale = time.strftime("%Y-%m-%dT%H:%M:%S.0+0000", time.gmtime(time.time() - 600))
    for stamp in (stale, "", "{{now}}", "yesterday"):
        headers = {"X-Supportbot-Token": "s3cret", "X-Supportbot-Timestamp": stamp}
        assert not REGISTRY.verify("jira-automation", "s3cret", BODY, headers), stamp
    assert not REGISTRY.verify("jira-automation", "s3cret", BODY, {"X-Supportbot-Token": "s3cret"})


@given(st.text(max_size=64))
def test_no_other_token_lets_jira_automation_in(token: str) -> None:
    assume(token != "s3cret")
    assert not REGISTRY.verify("jira-automation", "s3cret", BODY, {"X-Supportbot-Token": token})


def test_a_timestamp_without_an_offset_is_read_as_utc_whatever_the_servers_zone() -> None:
    """Checked in a process whose local zone is eight hours from UTC."""
    code = (
        "import time\n"
        "from handlers.webhooks.signatures import fresh\n"
        "now = time.time()\n"
        "naive = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now))\n"
        "print(fresh(naive, now))\n"
    )
    env = {**os.environ, "TZ": "Asia/Shanghai", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True"
