"""The deploy files agree with the code: scopes, probes, ports, persistence."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import EngineKind, Settings
from handlers.slack.token_check import REQUIRED_SCOPES

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def _documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / name).read_text()) if doc]


def test_the_slack_manifest_asks_for_exactly_the_scopes_the_bot_checks() -> None:
    [manifest] = _documents("slack-app-manifest.yaml")
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == REQUIRED_SCOPES
    assert manifest["features"]["shortcuts"][0]["callback_id"] == "escalate_message"
    assert manifest["features"]["slash_commands"][0]["command"] == "/escalate"


def test_the_slack_manifest_lets_people_message_the_bot_directly() -> None:
    [manifest] = _documents("slack-app-manifest.yaml")
    home = manifest["features"]["app_home"]
    assert home["messages_tab_enabled"] is True
    assert home["messages_tab_read_only_enabled"] is False
    assert "message.im" in manifest["settings"]["event_subscriptions"]["bot_events"]


def test_compose_runs_the_bot_on_a_gpu_with_persistent_redis() -> None:
    [compose] = _documents("compose.yaml")
    bot, redis = compose["services"]["supportbot"], compose["services"]["redis"]
    [device] = bot["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"]
    assert bot["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert "--appendonly" in redis["command"] and "everysec" in redis["command"]


def test_kubernetes_probes_point_at_the_apps_health_routes() -> None:
    deployment = next(
        d for d in _documents("kubernetes/supportbot.yaml") if d["kind"] == "Deployment"
    )
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_the_image_runs_as_a_non_root_user_with_a_health_check() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "USER 10001" in dockerfile and "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile


def test_every_metric_the_dashboard_plots_is_one_the_bot_exports() -> None:
    import json
    import re

    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    queries = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    plotted = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for name in re.findall(r"supportbot_[a-z_]+", queries)
    }
    from bot.observability.catalogue import CATALOGUE

    exported = {spec.name.removesuffix("_total") for spec in CATALOGUE}
    missing = plotted - exported
    assert not missing, f"plotted but never exported: {missing}"


def test_the_gpu_images_cuda_matches_the_cuda_torch_is_built_for() -> None:
    import re

    import torch

    dockerfile = (DEPLOY / "Dockerfile").read_text()
    [base] = re.findall(r"^FROM nvidia/cuda:(\d+\.\d+)\.\d+-", dockerfile, re.MULTILINE)
    if torch.version.cuda is None:
        pytest.skip("a CPU build of torch here: no CUDA version to compare the image with")
    assert base == torch.version.cuda, f"image CUDA {base}, torch built for {torch.version.cuda}"


def _installed_extras(dockerfile: str) -> set[str]:
    [extras] = re.findall(r'pip install --no-cache-dir "\.\[([a-z,]+)\]"\n', dockerfile)
    return set(extras.split(","))


def test_the_replica_image_installs_the_bot_without_the_local_engine() -> None:
    dockerfile = (DEPLOY / "Dockerfile.replica").read_text()
    assert _installed_extras(dockerfile) == {"postgres"} and "[local" not in dockerfile
    assert "ENGINE=remote" in dockerfile and "USER 10001" in dockerfile
    assert _installed_extras((DEPLOY / "Dockerfile").read_text()) == {"local", "postgres"}


def test_every_extra_an_image_installs_is_declared() -> None:
    # Either image may be a replica sharing the knowledge store (KNOWLEDGE_STORE), so
    # both install its driver; an extra pip does not know would only warn.
    declared = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for name in ("Dockerfile", "Dockerfile.replica"):
        assert _installed_extras((DEPLOY / name).read_text()) <= declared.keys(), name


def test_compose_starts_without_a_dotenv_file() -> None:
    [compose] = _documents("compose.yaml")
    [env_file] = compose["services"]["supportbot"]["env_file"]
    assert env_file == {"path": "../.env", "required": False}


def _request_urls(node: Any, path: str = "") -> dict[str, str]:
    """Every request URL in the manifest, by its path (`settings.interactivity.request_url`)."""
    found: dict[str, str] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            inner = f"{path}.{key}" if path else str(key)
            if key in {"request_url", "url"} and isinstance(value, str):
                found[inner] = value
            found |= _request_urls(value, inner)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found |= _request_urls(value, f"{path}[{index}]")
    return found


def test_the_readme_set_up_names_every_request_url_of_the_manifest() -> None:
    [manifest] = _documents("slack-app-manifest.yaml")
    readme = (DEPLOY.parent / "README.md").read_text()
    set_up = readme.split("## Setting up the Slack app", 1)[1].split("\n## ", 1)[0]
    urls = _request_urls(manifest)
    assert len(urls) == 3, urls
    for path, url in urls.items():
        assert f"`{path}`" in set_up, f"{path} is not named in the set-up steps"
        assert url.endswith("/slack/events") and "/slack/events" in set_up


def test_the_slim_replicas_run_the_replica_image_without_a_gpu_against_a_model_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = "kubernetes/slim/supportbot-replica.yaml"
    deployment = next(d for d in _documents(manifest) if d["kind"] == "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["image"].startswith("supportbot-replica:")
    assert "EXPOSE 3000" in (DEPLOY / "Dockerfile.replica").read_text()
    assert container["ports"][0]["containerPort"] == 3000
    resources = container["resources"]
    assert not any("gpu" in key for part in resources.values() for key in part)
    assert "volumes" not in spec  # no model cache: the server holds the model
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 10001  # the image's USER
    [service] = [d for d in _documents(manifest) if d["kind"] == "Service"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]

    # The settings the pods get (their env and the example secret) are valid, name a
    # remote engine, and share one Redis: several replicas answer each event once only so.
    [secret] = _documents("kubernetes/secret.example.yaml")
    for name in list(os.environ):
        if name.startswith(("ENGINE", "REDIS", "MODEL", "SLACK_")):
            monkeypatch.delenv(name)
    for name, value in secret["stringData"].items():
        monkeypatch.setenv(name, value)
    for variable in container["env"]:
        monkeypatch.setenv(variable["name"], variable["value"])
    settings = Settings(_env_file=None)
    settings.require_engine()
    assert settings.engine is EngineKind.REMOTE and settings.engine_url
    assert settings.redis_url and deployment["spec"]["replicas"] > 1
