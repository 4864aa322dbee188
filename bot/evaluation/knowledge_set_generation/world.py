"""ACME, the fictional company the set describes: its systems, teams and the values runbooks draw."""

from __future__ import annotations

from dataclasses import dataclass

SEED = 26
"""Everything is drawn from generators seeded from this: the output is the same on every run."""


@dataclass(frozen=True)
class System:
    slug: str
    en: str
    zh: str
    number: int  # ACME-<number><mode> codes
    service: str
    host: str
    config: str
    stage: str
    upstream: str
    resource: str


SYSTEMS = [
    System(
        "vault",
        "Vault",
        "Vault 密钥库",
        40,
        "deploy-bot",
        "vault.int.acme.example",
        "vault-agent.hcl",
        "fetch-secrets",
        "kms",
        "secret leases",
    ),
    System(
        "deploy",
        "deploy pipeline",
        "部署流水线",
        41,
        "pipeline-runner",
        "ci.int.acme.example",
        ".acme/pipeline.yml",
        "migrate",
        "artifact-store",
        "build minutes",
    ),
    System(
        "vpn",
        "VPN",
        "VPN",
        42,
        "acme-connect",
        "vpn.acme.example",
        "acme-connect.toml",
        "tunnel-up",
        "radius",
        "device seats",
    ),
    System(
        "sso",
        "SSO",
        "单点登录 SSO",
        43,
        "login-gateway",
        "sso.acme.example",
        "sso-client.yaml",
        "oidc-callback",
        "directory",
        "app registrations",
    ),
    System(
        "billing",
        "billing",
        "计费系统",
        44,
        "invoice-worker",
        "billing.int.acme.example",
        "billing.toml",
        "invoice-run",
        "tax-service",
        "invoice exports",
    ),
    System(
        "db",
        "database",
        "数据库",
        45,
        "pg-proxy",
        "pg.int.acme.example",
        "pgbouncer.ini",
        "failover",
        "pg-primary",
        "replication slots",
    ),
    System(
        "k8s",
        "Kubernetes",
        "Kubernetes 集群",
        46,
        "kube-gateway",
        "k8s.int.acme.example",
        "values-prod.yaml",
        "rollout",
        "registry",
        "namespace CPU",
    ),
    System(
        "payments",
        "payments API",
        "支付 API",
        47,
        "pay-api",
        "pay.acme.example",
        "payments.env",
        "capture",
        "card-network",
        "API keys",
    ),
    System(
        "mobile",
        "mobile app",
        "移动应用",
        48,
        "app-backend",
        "m.acme.example",
        "RemoteConfig.plist",
        "app-launch",
        "push-gateway",
        "push certificates",
    ),
    System(
        "cdn",
        "CDN",
        "CDN 加速",
        49,
        "edge-purger",
        "cdn.acme.example",
        "edge-rules.json",
        "purge",
        "origin",
        "purge requests",
    ),
    System(
        "mail",
        "notification email",
        "通知邮件",
        50,
        "mailer",
        "mail.int.acme.example",
        "mailer.yaml",
        "send",
        "smtp-relay",
        "sending domains",
    ),
    System(
        "search",
        "search service",
        "搜索服务",
        51,
        "search-indexer",
        "search.int.acme.example",
        "indexer.yaml",
        "reindex",
        "embedding-svc",
        "index shards",
    ),
    System(
        "queue",
        "message queue",
        "消息队列",
        52,
        "queue-consumer",
        "mq.int.acme.example",
        "consumer.properties",
        "consume",
        "broker",
        "topic partitions",
    ),
    System(
        "storage",
        "object storage",
        "对象存储",
        53,
        "blob-gateway",
        "s3.int.acme.example",
        "blob-gateway.yaml",
        "upload",
        "replicator",
        "buckets",
    ),
    System(
        "observability",
        "logging pipeline",
        "日志平台",
        54,
        "log-shipper",
        "logs.int.acme.example",
        "shipper.toml",
        "ship",
        "ingest",
        "log retention",
    ),
]

TEAMS = [
    "payments-core",
    "growth",
    "platform",
    "mobile-ios",
    "data-eng",
    "checkout",
    "identity",
    "sre",
]
TTLS = ["4h", "6h", "8h", "12h", "24h", "36h"]
CAS = ["acme-root-r3", "acme-int-g2", "acme-edge-e1", "acme-svc-s4"]
DAYS = [7, 14, 30, 45, 60, 90]
LOCKS = ["release", "schema", "shard-map", "cutover", "index-swap", "rotation"]
ZONES = ["int.acme.example", "svc.acme.internal", "corp.acme.lan"]
NAMESERVERS = ["10.20.0.53", "10.40.0.2", "172.16.8.53", "10.8.0.10"]
WEEKDAYS_EN = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WEEKDAYS_ZH = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
