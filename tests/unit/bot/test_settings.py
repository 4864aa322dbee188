from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.settings import DEFAULT_MODEL, DType, Settings, load_settings


def test_defaults_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MODEL", "PORT", "REDIS_URL", "SLACK_API_URL", "SLACK_FILE_URL_PREFIXES"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.model_id == DEFAULT_MODEL == "Qwen/Qwen3-VL-8B-Instruct"
    assert settings.port == 3000
    assert settings.redis_url is None
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.slack_file_url_prefixes == ["https://files.slack.com/"]
    assert settings.dtype is DType.AUTO and settings.device == "auto"


def test_environment_names_operators_rely_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL", "/models/qwen")
    monkeypatch.setenv(
        "SLACK_FILE_URL_PREFIXES", "https://files.slack.com/, http://127.0.0.1:9/files/"
    )
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("MAX_NEW_TOKENS", "64")
    monkeypatch.setenv("DTYPE", "bfloat16")
    settings = load_settings()
    assert settings.model_id == "/models/qwen"
    assert settings.slack_file_url_prefixes == [
        "https://files.slack.com/",
        "http://127.0.0.1:9/files/",
    ]
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.max_new_tokens == 64
    assert settings.dtype is DType.BFLOAT16


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "70000"),
        ("DEVICE", "tpu"),
        ("DTYPE", "int3"),
        ("SLACK_APP_TOKEN", "xoxb-wrong-kind"),
        ("SLACK_FILE_URL_PREFIXES", "files.slack.com"),
        ("MAX_NEW_TOKENS", "0"),
        ("CLAMD_ADDRESS", "clamd-without-port"),
        ("SENSITIVE_WORDS_FILE", "/nonexistent/words.txt"),
    ],
)
def test_an_invalid_setting_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"{name} is invalid")
    assert "\n" not in message


def test_serve_requires_the_slack_credentials() -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        Settings(_env_file=None, slack_bot_token=None).require_slack()
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        Settings(
            _env_file=None, slack_bot_token="xoxb-1", slack_signing_secret=None
        ).require_slack()
    socket_only = Settings(_env_file=None, slack_bot_token="xoxb-1", slack_app_token="xapp-1")
    socket_only.require_slack()
    assert socket_only.socket_mode


def test_safety_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINK_ALLOWED_HOSTS", "docs.acme.dev, status.acme.dev")
    monkeypatch.setenv("CLAMD_ADDRESS", "127.0.0.1:3310")
    monkeypatch.setenv("CLAMD_FAIL_OPEN", "true")
    settings = load_settings()
    assert settings.link_allowed_hosts == ["docs.acme.dev", "status.acme.dev"]
    assert settings.clamd_address == "127.0.0.1:3310" and settings.clamd_fail_open
    assert settings.max_decode_pixels == 50_000_000
    assert settings.max_request_bytes == 1024 * 1024


def test_remote_engine_needs_its_url() -> None:
    with pytest.raises(ConfigError, match="ENGINE_URL"):
        Settings(_env_file=None, engine="remote").require_engine()
    Settings(_env_file=None, engine="remote", engine_url="http://vllm:8000").require_engine()
