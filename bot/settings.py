"""Every setting supportbot reads, from the environment (or a `.env` file), but each
helpdesk's own: those are in its package (`handlers/helpdesks/<vendor>/settings.py`) and are
read the same way (`read_model`).

Only `bot/cli.py` and the composition root create `Settings()`; everything else receives it
or the values it needs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.engine.decode_mode import DecodeMode
from bot.errors import ConfigError
from bot.printable_urls import printable_url

# The largest Qwen3-VL Instruct model that fits the machine (bot/engine/model_choice.py).
DEFAULT_MODEL = "auto"

# Hosts an answer may link to (LINK_ALLOWED_HOSTS); `bot.safety.links` neutralises the rest.
DEFAULT_ALLOWED_HOSTS = (
    "docs.python.org",
    "pypi.org",
    "github.com",
    "stackoverflow.com",
    "developer.mozilla.org",
    "learn.microsoft.com",
    "docs.aws.amazon.com",
    "cloud.google.com",
    "kubernetes.io",
    "docs.docker.com",
    "nodejs.org",
    "npmjs.com",
    "postgresql.org",
    "redis.io",
    "slack.com",
)


class DType(StrEnum):
    AUTO = "auto"
    BFLOAT16 = "bfloat16"
    FLOAT16 = "float16"
    FLOAT32 = "float32"


class EmbeddingDType(StrEnum):
    """The embedding model's dtype on the CPU; `auto`: bfloat16 where the CPU has it natively."""

    AUTO = "auto"
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"


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

# Other spellings operators type for the same choice (as vLLM's --dtype and `logging` take them).
_SPELLINGS = {
    "bf16": "bfloat16",
    "fp16": "float16",
    "half": "float16",
    "fp32": "float32",
    "float": "float32",
    "warn": "WARNING",
    "gpu": "cuda",
}
# redis-py's `from_url` takes exactly these schemes.
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
# libpq's connection URI schemes (PostgreSQL docs, "Connection URIs").
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_http_url(value: str) -> bool:
    """Whether `value` is an absolute http(s) URL with a host (and a usable port, if any)."""
    try:
        parts = urlsplit(value)
        usable = parts.scheme in {"http", "https"} and bool(parts.hostname)
        return usable and (parts.port is None or parts.port > 0)
    except ValueError:  # a port that is no number or out of range, a broken IPv6 host
        return False


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

    jobs_read_token: SecretStr | None = None  # also lets GET /jobs/{id} in (as a bearer token)
    webhook_attachment_hosts: Annotated[list[str], NoDecode] = []
    webhook_allowed_networks: Annotated[list[IPv4Network | IPv6Network], NoDecode] = []
    webhook_slack_channel: str | None = None
    # Each helpdesk's own settings (ZENDESK_URL, JIRA_API_TOKEN, …) are in its package
    # (handlers/helpdesks/<vendor>/settings.py); these are shared by all of them.
    helpdesk_job_attempts: int = Field(default=6, ge=1, le=50)  # then dead-lettered
    helpdesk_retry_seconds: float = Field(default=30.0, gt=0)  # first wait, then 4x, at most 1 h
    helpdesk_timeout_seconds: float = Field(default=30.0, gt=0)  # one call to a helpdesk API
    # A claimed job is a replica's for this long without a renewal (renewed every third of
    # it); a replica that dies loses its jobs to the others after at most this long.
    job_lease_seconds: float = Field(default=30.0, ge=1, le=3600)

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
    prefill_chunk_tokens: int = Field(default=512, ge=0)  # 0: prefill in one pass
    prefix_cache_bytes: int = Field(default=2 * 2**30, ge=0)
    encoder_cache_bytes: int = Field(default=256 * 2**20, ge=0)  # screenshots' encodings
    encoder_workers: int = Field(default=2, ge=1, le=16)  # threads encoding them ahead
    kv_cache_bytes: int = Field(default=0, ge=0)  # 0: KV_CACHE_MEMORY_SHARE of free memory
    kv_cache_memory_share: float = Field(default=0.9, gt=0, le=1)
    decode_mode: DecodeMode = DecodeMode.AUTO
    queue_timeout_seconds: float = Field(default=120.0, gt=0)
    generation_timeout_seconds: float = Field(default=300.0, gt=0)
    max_image_pixels: int = Field(default=1280 * 1024, ge=28 * 28)
    max_image_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_images_per_turn: int = Field(default=8, ge=1, le=32)
    # All screenshots of one message share this many pixels (each still at most
    # MAX_IMAGE_PIXELS); text files of one message share this many prompt tokens.
    max_turn_image_pixels: int = Field(default=4 * 1280 * 1024, ge=28 * 28)
    max_attachment_text_tokens: int = Field(default=4096, ge=256)
    max_decode_pixels: int = Field(default=50_000_000, ge=1_000_000)
    max_request_bytes: int = Field(default=1024 * 1024, ge=16 * 1024)

    # Knowledge: the sources file, where the index lives, the embedding model (a Hugging
    # Face id or a local directory; "none": words only), how often `serve` re-syncs.
    knowledge_config: Path | None = None
    knowledge_index: Path = Path("knowledge/index.db")
    # One PostgreSQL store every replica shares instead of each its own KNOWLEDGE_INDEX file.
    knowledge_store: str | None = None
    embedding_model: str = "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"
    embedding_dtype: EmbeddingDType = EmbeddingDType.AUTO
    knowledge_sync_minutes: float = Field(default=60.0, ge=0)  # 0: only at start-up
    knowledge_min_similarity: float = Field(default=0.35, ge=-1, le=1)

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
        "dtype",
        "embedding_dtype",
        "engine",
        "log_level",
        "log_format",
        "decode_mode",
        mode="before",
    )
    @classmethod
    def _choice_in_any_case(cls, value: object, info: ValidationInfo) -> object:
        # `LOG_LEVEL=debug`, `DTYPE=BF16`: the choice, whatever its case or usual short form.
        if not isinstance(value, str):
            return value
        spelled = _SPELLINGS.get(value.strip().lower(), value.strip())
        choices = cls.model_fields[info.field_name or ""].annotation
        for choice in getattr(choices, "__members__", {}).values():
            if str(choice.value).lower() == spelled.lower():
                return choice
        return value

    @field_validator("device", mode="before")
    @classmethod
    def _device_in_any_case(cls, value: object) -> object:
        if isinstance(value, str):
            lowered = value.strip().lower()
            return _SPELLINGS.get(lowered, lowered)
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(_REDIS_SCHEMES):
            raise ValueError(
                "must be a Redis URL such as redis://localhost:6379/0 "
                "(schemes: redis://, rediss://, unix://)"
            )
        return value

    @field_validator("knowledge_store")
    @classmethod
    def _knowledge_store_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(_POSTGRES_SCHEMES):
            raise ValueError(
                "must be a PostgreSQL URI such as postgresql://supportbot@db:5432/supportbot"
            )
        return value

    @field_validator("model_id", mode="before")
    @classmethod
    def _auto_in_any_case(cls, value: object) -> object:
        # `MODEL=Auto` is the choice, as other choices are read in any case; it is not a Hub
        # repository named "Auto" that a start would try to download.
        if isinstance(value, str) and value.strip().lower() == DEFAULT_MODEL:
            return DEFAULT_MODEL
        return value

    @field_validator("engine_url")
    @classmethod
    def _engine_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not is_http_url(value):
            raise ValueError("must be an http(s) URL of the model server, e.g. http://vllm:8000")
        return value

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

    @field_validator("sensitive_words_file", "channel_config", "knowledge_config")
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
        if printable_url(value) != value:
            # slack_sdk refuses credentials in the URL next to its bearer token.
            raise ValueError("must not carry user:password@ (Slack takes the bot token)")
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

    def engine_problems(self) -> list[str]:
        """What the engine cannot start without: `ENGINE_URL` with `ENGINE=remote`."""
        if self.engine is EngineKind.REMOTE and not self.engine_url:
            return ["ENGINE_URL is required with ENGINE=remote"]
        return []

    def slack_problems(self) -> list[str]:
        """Every Slack setting `serve` cannot do without and is missing."""
        problems = []
        if self.slack_bot_token is None:
            problems.append("SLACK_BOT_TOKEN is required (the bot token, xoxb-…)")
        if self.slack_signing_secret is None and not self.socket_mode:
            problems.append(
                "SLACK_SIGNING_SECRET is required for HTTP events "
                "(or set SLACK_APP_TOKEN for Socket Mode)"
            )
        return problems

    def require_engine(self) -> None:
        """Raise `ConfigError` when `ENGINE=remote` has no `ENGINE_URL`."""
        if problems := self.engine_problems():
            raise ConfigError(*problems)

    def require_slack(self) -> None:
        """Raise `ConfigError` naming every Slack setting `serve` cannot do without."""
        if problems := self.slack_problems():
            raise ConfigError(*problems)


class Needs(StrEnum):
    """What a command needs beyond valid settings."""

    NOTHING = "nothing"
    ENGINE = "engine"  # diagnose
    SLACK_AND_ENGINE = "slack-and-engine"  # serve


def env_name(field_name: str) -> str:
    """The environment variable a `Settings` field is read from."""
    return "MODEL" if field_name == "model_id" else field_name.upper()


M = TypeVar("M", bound=BaseSettings)


def _is_secret(model: type[BaseSettings], field_name: str) -> bool:
    return "SecretStr" in str(model.model_fields[field_name].annotation)


def _describe(model: type[BaseSettings], error: ErrorDetails) -> tuple[str, str]:
    field_name = str(error["loc"][0]) if error["loc"] else ""
    name = env_name(field_name) if field_name else "a setting"
    message = str(error["msg"]).removeprefix("Value error, ")
    if field_name in model.model_fields and not _is_secret(model, field_name):
        shown = error.get("input")
        if isinstance(shown, str | int | float) and len(str(shown)) <= 80:
            # A value may be a URL with `user:password@` in it: never echo the password.
            message += f" (got {printable_url(str(shown))!r})"
    return field_name, f"{name} is invalid: {message}"


def read_model(model: type[M], **values: Any) -> tuple[M | None, list[str]]:
    """`model` read from the environment (and `.env`), and one line per invalid setting.

    `Settings` and each helpdesk's own settings are read this way, so that every problem is
    reported at once, in the same words. With problems, the model is read again with the
    invalid settings at their defaults (None when even that fails), so that what else is
    missing can still be said.
    """
    problems: list[str] = []
    try:
        return model(**values), problems
    except ValidationError as error:
        fields: dict[str, Any] = {}
        for detail in error.errors():
            field_name, line = _describe(model, detail)
            if line not in problems:
                problems.append(line)
            if field_name in model.model_fields:
                fields[field_name] = model.model_fields[field_name].get_default(
                    call_default_factory=True
                )
    # Arguments win over the environment.
    try:
        return model(**(values | fields)), problems
    except ValidationError:
        return None, problems


def load_settings(needs: Needs = Needs.NOTHING, *, also_invalid: Sequence[str] = ()) -> Settings:
    """Read `Settings` from the environment (and `.env`); report every problem at once.

    Args:
        needs: what the command needs beyond valid settings.
        also_invalid: problems found in other settings read beside these (a helpdesk's own),
            reported with these in one `ConfigError`.

    Raises:
        ConfigError: one line per invalid setting, and per setting `needs` requires
            that is missing (`ConfigError.problems`).
    """
    settings, problems = read_model(Settings)
    problems += [line for line in also_invalid if line not in problems]
    if settings is None:
        raise ConfigError(*problems)
    required = []
    if needs is not Needs.NOTHING:
        required += settings.engine_problems()
    if needs is Needs.SLACK_AND_ENGINE:
        required += settings.slack_problems()
    invalid = {line.split(" ", 1)[0] for line in problems}
    # A setting already named as invalid is not named again as missing.
    problems += [line for line in required if line.split(" ", 1)[0] not in invalid]
    if problems:
        raise ConfigError(*problems)
    return settings
