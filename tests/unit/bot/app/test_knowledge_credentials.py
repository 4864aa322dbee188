"""The vendors' knowledge sources sign in with the accounts each helpdesk's own settings hold
(docs/knowledge.md: a zendesk source uses ZENDESK_URL, ZENDESK_EMAIL, ZENDESK_API_TOKEN)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.knowledge import build_knowledge
from bot.errors import ConfigError
from bot.safety.redaction import Redactor
from bot.settings import Settings
from handlers.helpdesks.registry import REGISTRY


def _settings(tmp_path: Path) -> Settings:
    config = tmp_path / "knowledge.toml"
    config.write_text('[[sources]]\nname = "help-center"\ntype = "zendesk"\n')
    return Settings(
        _env_file=None,
        knowledge_config=config,
        knowledge_index=tmp_path / "index.db",
        embedding_model="none",
    )


def test_a_zendesk_source_signs_in_with_zendesks_own_settings(tmp_path: Path) -> None:
    desks = REGISTRY.settings(
        _env_file=None,
        zendesk_url="https://acme.zendesk.com",
        zendesk_email="bot@acme.test",
        zendesk_api_token="zd",
    )
    credentials = REGISTRY.article_credentials(desks)
    knowledge = build_knowledge(_settings(tmp_path), redactor=Redactor(), credentials=credentials)
    assert knowledge is not None
    assert [source.name for source in knowledge.sources] == ["help-center"]


def test_a_zendesk_source_without_its_account_is_a_configuration_error(tmp_path: Path) -> None:
    credentials = REGISTRY.article_credentials(REGISTRY.settings(_env_file=None))
    with pytest.raises(ConfigError, match="no zendesk credentials"):
        build_knowledge(_settings(tmp_path), redactor=Redactor(), credentials=credentials)
