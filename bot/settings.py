"""Every setting supportbot reads, from the environment (or a `.env` file).

Only `bot/cli.py` creates `Settings()`; everything else receives it or the
values it needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.engine.decode_mode import DecodeMode
from bot.errors import ConfigError
from bot.safety.links import DEFAULT_ALLOWED_HOSTS

DEFAULT_MODEL = "Qwen/Qwen3-VL-8B-Instruct"


class DType(StrEnum):
    AUTO = "auto"
    BFLOAT16 = "bfloat16"
    FLOAT16 = "float16"
    FLOAT32 = "float32"


@dataclass(frozen=True)
class VendorApi:
    """A helpdesk's API address and the account the bot signs in as (email and API token)."""

    base_url: str
    email: str
    token: str = field(repr=False)


class EngineKind(StrEnum):
    LOCAL = "local"
    REMOTE = "remote"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


class Settings(BaseSettings):
    """supportbot's configuration; each field is read from the upper-case env var of its name."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", protected_namespaces=()
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_file_url_prefixes: Annotated[list[str], NoDecode] = ["https://files.slack.com/"]

    slack_streaming: bool = True
    slack_thread_status: bool = True
    escalation_channel: str | None = None
    escalation_usergroup: str | None = None
    escalation_tickets: bool = False  # also open a Zendesk ticket (needs the ZENDESK_* settings)
    channel_config: Path | None = None
    rate_limit_per_user: int = Field(default=10, ge=0)
    rate_limit_per_channel: int = Field(default=60, ge=0)

    zendesk_webhook_secret: SecretStr | None = None
    zendesk_url: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: SecretStr | None = None
    intercom_webhook_secret: SecretStr | None = None
    intercom_url: str = "https://api.intercom.io"
    intercom_token: SecretStr | None = None
    intercom_admin_id: str | None = None
    jira_webhook_secret: SecretStr | None = None
    jira_url: str | None = None
    jira_email: str | None = None
    jira_api_token: SecretStr | None = None
    generic_webhook_secret: SecretStr | None = None
    webhook_attachment_hosts: Annotated[list[str], NoDecode] = []
    webhook_allowed_networks: Annotated[list[IPv4Network | IPv6Network], NoDecode] = []
    webhook_slack_channel: str | None = None

    redis_url: str | None = None
    redis_key_prefix: str = "supportbot"
    history_max_turns: int = Field(default=40, ge=2, le=1000)
    history_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)

    # `model` is a reserved name on pydantic models, hence the alias.
    model_id: str = Field(default=DEFAULT_MODEL, validation_alias=AliasChoices("MODEL", "model_id"))
    engine: EngineKind = EngineKind.LOCAL
    engine_url: str | None = None
    engine_model: str | None = None  # the model's name on the remote server; MODEL when unset
    engine_api_key: SecretStr | None = None
    lora_adapter: str | None = None  # PEFT adapter merged into MODEL at start-up
    device: str = "auto"
    dtype: DType = DType.AUTO
    max_new_tokens: int = Field(default=1024, ge=1, le=32768)
    max_context_tokens: int = Field(default=16384, ge=256)
    max_waiting: int = Field(default=64, ge=1)
    max_batch: int = Field(default=32, ge=1, le=512)
    batch_token_budget: int = Field(default=65536, ge=1024)
    batch_window_ms: float = Field(default=5.0, ge=0, le=1000)
    prefix_cache_bytes: int = Field(default=2 * 2**30, ge=0)
    decode_mode: DecodeMode = DecodeMode.AUTO
    queue_timeout_seconds: float = Field(default=120.0, gt=0)
    generation_timeout_seconds: float = Field(default=300.0, gt=0)
    max_image_pixels: int = Field(default=1280 * 1024, ge=28 * 28)
    max_image_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_images_per_turn: int = Field(default=8, ge=1, le=32)
    max_decode_pixels: int = Field(default=50_000_000, ge=1_000_000)
    max_request_bytes: int = Field(default=1024 * 1024, ge=16 * 1024)

    clamd_address: str | None = None
    clamd_fail_open: bool = False
    sensitive_words_file: Path | None = None
    link_allowed_hosts: Annotated[list[str], NoDecode] = list(DEFAULT_ALLOWED_HOSTS)

    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    # How long an answer may be in progress before its question counts as abandoned
    # (unset: queue and generation deadlines plus a minute), and how often to look.
    slack_work_lease_seconds: float | None = Field(default=None, gt=0)
    # Slack wants the ack within 3 s; the work before it (recording the question) gets this long.
    slack_ack_budget_seconds: float = Field(default=1.0, gt=0, lt=3)
    recovery_interval_seconds: float = Field(default=30.0, gt=0)

    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=1, le=65535)
    log_level: LogLevel = LogLevel.INFO
    log_format: LogFormat = LogFormat.TEXT

    @field_validator(
        "slack_file_url_prefixes",
        "link_allowed_hosts",
        "webhook_attachment_hosts",
        "webhook_allowed_networks",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("slack_file_url_prefixes")
    @classmethod
    def _prefixes_are_urls(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not prefix.startswith(("https://", "http://")):
                raise ValueError(f"{prefix!r} is not an http(s) URL prefix")
        return value

    @field_validator("sensitive_words_file", "channel_config")
    @classmethod
    def _file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a readable file")
        return value

    @field_validator("clamd_address")
    @classmethod
    def _clamd_address_shape(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("/") or re.fullmatch(r".+:\d+", value)):
            raise ValueError("must be host:port or a Unix socket path")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_ends_with_slash(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("device")
    @classmethod
    def _device_is_known(cls, value: str) -> str:
        if not _DEVICE_PATTERN.match(value):
            raise ValueError("must be auto, cpu, cuda or cuda:N")
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token (xoxb-…)")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token (xapp-…)")
        return value

    @property
    def work_lease_seconds(self) -> float:
        if self.slack_work_lease_seconds is not None:
            return self.slack_work_lease_seconds
        return self.queue_timeout_seconds + self.generation_timeout_seconds + 60

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def zendesk_api(self) -> VendorApi | None:
        """Zendesk's API credentials, when all three of its settings are set."""
        if self.zendesk_url and self.zendesk_email and self.zendesk_api_token:
            return VendorApi(
                self.zendesk_url, self.zendesk_email, self.zendesk_api_token.get_secret_value()
            )
        return None

    def jira_api(self) -> VendorApi | None:
        """Jira's API credentials, when all three of its settings are set."""
        if self.jira_url and self.jira_email and self.jira_api_token:
            return VendorApi(self.jira_url, self.jira_email, self.jira_api_token.get_secret_value())
        return None

    def require_engine(self) -> None:
        """Raise `ConfigError` when `ENGINE=remote` has no `ENGINE_URL`."""
        if self.engine is EngineKind.REMOTE and not self.engine_url:
            raise ConfigError("ENGINE_URL is required with ENGINE=remote")

    def require_slack(self) -> None:
        """Raise `ConfigError` naming the first Slack setting `serve` cannot do without."""
        if self.slack_bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN is required (the bot token, xoxb-…)")
        if self.slack_signing_secret is None and not self.socket_mode:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is required for HTTP events "
                "(or set SLACK_APP_TOKEN for Socket Mode)"
            )


def load_settings() -> Settings:
    """Read `Settings` from the environment, turning validation errors into one clear line."""
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        location = first["loc"][0] if first["loc"] else "setting"
        name = "MODEL" if location == "model_id" else str(location).upper()
        raise ConfigError(f"{name} is invalid: {first['msg']}") from None
