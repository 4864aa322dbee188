from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.settings import (
    DEFAULT_MODEL,
    DType,
    EmbeddingDType,
    EngineKind,
    LogFormat,
    LogLevel,
    Needs,
    Settings,
    load_settings,
    read_model,
)


def test_defaults_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MODEL", "PORT", "REDIS_URL", "SLACK_API_URL", "SLACK_FILE_URL_PREFIXES"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.model_id == DEFAULT_MODEL == "auto"
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
        ("EMBEDDING_DTYPE", "float16"),
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


def test_every_invalid_setting_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "y")
    monkeypatch.setenv("MAX_BATCH", "x")
    monkeypatch.setenv("REDIS_URL", "notaurl")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    named = sorted(problem.split(" ", 1)[0] for problem in raised.value.problems)
    assert named == ["MAX_BATCH", "PORT", "REDIS_URL"]
    assert "(got 'y')" in str(raised.value)


class _VendorLike(BaseSettings):
    # A helpdesk's own settings are read by `read_model` as `Settings` is.
    model_config = SettingsConfigDict(extra="ignore")
    acme_url: str | None = Field(default=None, pattern="^https://")
    acme_token: SecretStr | None = Field(default=None, min_length=4)


def test_other_settings_are_read_and_reported_in_the_same_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACME_URL", "ftp://acme.test")
    monkeypatch.setenv("ACME_TOKEN", "abc")
    model, problems = read_model(_VendorLike)
    assert model is not None and model.acme_url is None  # read again at its default
    assert [problem.split(" ", 1)[0] for problem in problems] == ["ACME_URL", "ACME_TOKEN"]
    assert problems[0].startswith("ACME_URL is invalid: ") and "'ftp://acme.test'" in problems[0]
    assert "abc" not in problems[1], "a secret's value is never echoed"
    # Told together with the shared settings' own problems, in one error.
    monkeypatch.setenv("PORT", "y")
    with pytest.raises(ConfigError) as raised:
        load_settings(also_invalid=problems)
    named = [problem.split(" ", 1)[0] for problem in raised.value.problems]
    assert named == ["PORT", "ACME_URL", "ACME_TOKEN"]


def test_missing_settings_are_listed_with_the_invalid_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORT", "y")
    with pytest.raises(ConfigError) as raised:
        load_settings(Needs.SLACK_AND_ENGINE)
    named = [problem.split(" ", 1)[0] for problem in raised.value.problems]
    assert named == ["PORT", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]


def test_an_invalid_setting_is_not_also_called_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-a-user-token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    with pytest.raises(ConfigError) as raised:
        load_settings(Needs.SLACK_AND_ENGINE)
    assert raised.value.problems == ("SLACK_BOT_TOKEN is invalid: must be a bot token (xoxb-…)",)
    assert "xoxp-a-user-token" not in str(raised.value), "a secret's value is never echoed"


@pytest.mark.parametrize("url", ["redis://localhost:6379/0", "rediss://h:6380", "unix:///r.sock"])
def test_redis_urls_redis_py_accepts(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    assert load_settings().redis_url == url


@given(
    level=st.sampled_from(["debug", "info", "warning", "error"]),
    flips=st.lists(st.booleans(), min_size=7, max_size=7),
)
def test_log_level_in_any_case(level: str, flips: list[bool]) -> None:
    spelled = "".join(c.upper() if flip else c for c, flip in zip(level, flips, strict=False))
    spelled += level[len(flips) :]
    settings = Settings(_env_file=None, log_level=spelled)
    assert settings.log_level is LogLevel(level.upper())


@pytest.mark.parametrize(
    ("name", "spelled", "field", "meant"),
    [
        ("LOG_LEVEL", "warn", "log_level", LogLevel.WARNING),
        ("DTYPE", "BF16", "dtype", DType.BFLOAT16),
        ("DTYPE", "half", "dtype", DType.FLOAT16),
        ("DTYPE", "fp32", "dtype", DType.FLOAT32),
        ("EMBEDDING_DTYPE", "BF16", "embedding_dtype", EmbeddingDType.BFLOAT16),
        ("EMBEDDING_DTYPE", "fp32", "embedding_dtype", EmbeddingDType.FLOAT32),
        ("DEVICE", "CUDA:1", "device", "cuda:1"),
        ("ENGINE", "Remote", "engine", EngineKind.REMOTE),
        ("LOG_FORMAT", "JSON", "log_format", LogFormat.JSON),
    ],
)
def test_usual_spellings_are_accepted(
    monkeypatch: pytest.MonkeyPatch, name: str, spelled: str, field: str, meant: object
) -> None:
    monkeypatch.setenv(name, spelled)
    monkeypatch.setenv("ENGINE_URL", "http://vllm:8000")
    assert getattr(load_settings(), field) == meant


def test_an_unknown_choice_still_names_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "loud")
    with pytest.raises(ConfigError, match=r"LOG_LEVEL is invalid: .*'DEBUG', 'INFO'"):
        load_settings()


def test_the_embedding_dtype_is_auto_unless_set_and_names_its_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EMBEDDING_DTYPE", raising=False)
    assert Settings(_env_file=None).embedding_dtype is EmbeddingDType.AUTO
    monkeypatch.setenv("EMBEDDING_DTYPE", "int8")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert raised.value.problems == (
        "EMBEDDING_DTYPE is invalid: Input should be 'auto', 'float32' or 'bfloat16' (got 'int8')",
    )


def test_a_settings_error_never_echoes_a_password_in_a_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", "http://:S3cretRedisPw@cache:6379/0")
    monkeypatch.setenv("SLACK_API_URL", "https://bot:SlackUrlPw9@slack.example/api/")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    shown = str(raised.value)
    assert "S3cretRedisPw" not in shown and "SlackUrlPw9" not in shown
    assert "(got 'http://cache:6379/0')" in shown
    assert "SLACK_API_URL is invalid: must not carry user:password@" in shown


@pytest.mark.parametrize(
    "url",
    ["vllm:8000", "ftp://vllm", "http://", "http://ops:s3cret@vllm:abc", "http://ops:s3cret@[::1"],
)
def test_an_engine_url_that_is_no_http_url_is_refused_without_its_password(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("ENGINE", "remote")
    monkeypatch.setenv("ENGINE_URL", url)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    [problem] = raised.value.problems
    assert problem.startswith("ENGINE_URL is invalid: must be an http(s) URL")
    assert "s3cret" not in str(raised.value)


def test_an_invalid_url_setting_is_repeated_back_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", "foo://ops:s3cret@redis:6379")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "(got 'foo://redis:6379')" in str(raised.value) and "s3cret" not in str(raised.value)


@pytest.mark.parametrize("spelling", ["auto", "Auto", " AUTO ", "auto\n"])
def test_model_auto_is_read_in_any_case(monkeypatch: pytest.MonkeyPatch, spelling: str) -> None:
    monkeypatch.setenv("MODEL", spelling)
    assert Settings(_env_file=None).model_id == "auto"
    monkeypatch.setenv("MODEL", "Qwen/Qwen3-VL-2B-Instruct")
    assert Settings(_env_file=None).model_id == "Qwen/Qwen3-VL-2B-Instruct"  # kept as written


def test_the_knowledge_store_is_a_postgresql_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOWLEDGE_STORE", "postgresql://bot@db:5432/knowledge")
    assert load_settings().knowledge_store == "postgresql://bot@db:5432/knowledge"
    monkeypatch.setenv("KNOWLEDGE_STORE", "mysql://bot:S3cret@db/knowledge")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "KNOWLEDGE_STORE is invalid: must be a PostgreSQL URI" in str(raised.value)
    assert "S3cret" not in str(raised.value)
