from __future__ import annotations

import pytest

from bot.safety.redaction import Kind, Redactor, luhn_valid, placeholder

CASES = [
    ("key AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE", Kind.AWS_KEY),
    ("bot xoxb-123456789012-1234567890123-AbCdEfGhIjKl", "xoxb-123456789012", Kind.SLACK_TOKEN),
    ("user xoxp-1234-5678-90ab-cdef", "xoxp-1234-5678-90ab-cdef", Kind.SLACK_TOKEN),
    ("refresh xoxe-1-abcdefghijkl", "xoxe-1-abcdefghijkl", Kind.SLACK_TOKEN),
    ("app xapp-1-A0123-456-abcdef", "xapp-1-A0123-456-abcdef", Kind.SLACK_TOKEN),
    (
        "hook https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX",
        "hooks.slack.com",
        Kind.SLACK_WEBHOOK,
    ),
    ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghij", Kind.GITHUB_TOKEN),
    ("gh gho_abcdefghijklmnopqrstuvwxyz0123456789", "gho_abcdefghij", Kind.GITHUB_TOKEN),
    (
        "gh github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "github_pat_11ABC",
        Kind.GITHUB_TOKEN,
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
        "b3BlbnNzaC1rZXk",
        Kind.PRIVATE_KEY,
    ),
    (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fw",
        "SflKxwRJSMeKKF2QT4fw",
        Kind.JWT,
    ),
    ("db postgres://app:s3cr3tPass@db.internal:5432/app", "s3cr3tPass", Kind.URL_PASSWORD),
    ("redis://:hunter22@cache:6379/0", "hunter22", Kind.URL_PASSWORD),
    ("DB_PASSWORD=correcthorse", "correcthorse", Kind.ASSIGNED_SECRET),
    ('api_key: "sk-live-abcdef"', "sk-live-abcdef", Kind.ASSIGNED_SECRET),
    ("db_password: hunter2!", "hunter2!", Kind.ASSIGNED_SECRET),
    ("client_secret = 9f8e7d6c5b", "9f8e7d6c5b", Kind.ASSIGNED_SECRET),
    (
        "file https://files.slack.com/files-pri/T1-F1/err.png",
        "files-pri/T1-F1",
        Kind.SLACK_FILE_LINK,
    ),
    ("mail alice.smith+ops@example.co.uk now", "alice.smith+ops@example.co.uk", Kind.EMAIL),
    ("call +1 (415) 555-2671", "555-2671", Kind.PHONE),
    ("call +44 20 7946 0958", "7946 0958", Kind.PHONE),
    ("call 415-555-2671", "415-555-2671", Kind.PHONE),
    ("card 4111 1111 1111 1111", "4111 1111 1111 1111", Kind.CARD),
    ("card 5500-0000-0000-0004", "5500-0000-0000-0004", Kind.CARD),
    ("amex 378282246310005", "378282246310005", Kind.CARD),
]


@pytest.mark.parametrize(("text", "secret", "kind"), CASES)
def test_each_family_is_redacted_and_counted(text: str, secret: str, kind: Kind) -> None:
    redactor = Redactor()
    redacted = redactor.redact(text)
    assert secret not in redacted
    assert placeholder(kind) in redacted
    assert redactor.stats.snapshot() == {kind.value: 1}


def test_the_key_name_stays_readable() -> None:
    assert Redactor().redact("password=hunter22") == f"password={placeholder(Kind.ASSIGNED_SECRET)}"


def test_cards_failing_luhn_are_left_alone() -> None:
    assert not luhn_valid("4111111111111112")
    assert Redactor().redact("order 4111 1111 1111 1112") == "order 4111 1111 1111 1112"


STACK_TRACES = [
    "could not reach Slack to check the token: Cannot connect to host slack.com:443",
    'Traceback (most recent call last):\n  File "/srv/app/main.py", line 1234, in handle\n'
    "    return self._send(request)\nrequests.exceptions.ConnectionError: HTTPConnectionPool"
    "(host='10.0.12.7', port=8080): Max retries exceeded with url: /v1/items?page=2",
    "java.lang.NullPointerException\n\tat com.acme.OrderService.place(OrderService.java:88)\n"
    "\tat sun.reflect.NativeMethodAccessorImpl.invoke0(Native Method)",
    "panic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 [running]:\n"
    "main.main()\n\t/home/dev/app/main.go:17 +0x1d\nexit status 2",
    "npm ERR! code EACCES\nnpm ERR! syscall mkdir\nnpm ERR! path /usr/lib/node_modules\n"
    "npm ERR! errno -13 at 2024-03-05T14:22:31.512Z",
    "build 4f9c2a1e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a3f (sha256:9b2e1c0d) version 1.24.10 "
    "request-id 123e4567-e89b-12d3-a456-426614174000 epoch 1700000000123 pid 48213",
    "ERROR 1045 (28000): Access denied for user 'app'@'localhost' (using password: YES)",
    "docker: Error response from daemon: driver failed: Bind for 0.0.0.0:5432 failed: port is "
    "already allocated. 2024-01-15 12:30:45 +0000 UTC",
    "Segmentation fault (core dumped) at 0x00007ffd3a2b4c10, IP 192.168.100.200, uptime 86400s",
]


@pytest.mark.parametrize("trace", STACK_TRACES)
def test_real_looking_stack_traces_survive_untouched(trace: str) -> None:
    redactor = Redactor()
    assert redactor.redact(trace) == trace
    assert redactor.stats.snapshot() == {}
