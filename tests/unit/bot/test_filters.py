from __future__ import annotations

import pytest

from bot.filters import REDACTED, SecretRedactingFilter, redact

SECRETS = [
    "xoxb-123456789012-abcdefghijkl",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "alice@example.com",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_secrets_are_redacted(secret: str) -> None:
    assert redact(f"the key {secret} leaked") == f"the key {REDACTED} leaked"


def test_password_in_a_connection_string_is_hidden_but_host_kept() -> None:
    assert (
        redact("postgres://app:hunter2@db.internal:5432/app")
        == f"postgres://app:{REDACTED}@db.internal:5432/app"
    )


def test_ordinary_stack_traces_survive() -> None:
    trace = 'File "/srv/app/main.py", line 12, build 4f9c2a1 at 0x7ffd3a2b'
    assert redact(trace) == trace


@pytest.mark.parametrize("secret", SECRETS)
def test_a_secret_split_across_stream_pieces_never_shows(secret: str) -> None:
    text = f"Your token {secret} is in the log.\n"
    for size in (1, 3, 7):
        stream = SecretRedactingFilter().open()
        shown = (
            "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size))
            + stream.finish()
        )
        assert secret not in shown
        assert shown == f"Your token {REDACTED} is in the log.\n"
