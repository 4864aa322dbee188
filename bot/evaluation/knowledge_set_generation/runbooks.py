"""One runbook per failure mode of a system: its code, the system's values, the mode's text."""

from __future__ import annotations

import random

from bot.evaluation.knowledge_set_generation import capacity, coordination, trust
from bot.evaluation.knowledge_set_generation.document import Doc
from bot.evaluation.knowledge_set_generation.failure import Template
from bot.evaluation.knowledge_set_generation.world import TEAMS, System

MODES = {
    "token": 12,
    "cert": 21,
    "quota": 29,
    "lock": 33,
    "schema": 45,
    "pool": 57,
    "ratelimit": 68,
    "lag": 74,
    "signature": 81,
    "dns": 90,
    "disk": 93,
    "oom": 97,
}


# The failure modes each system can plausibly have (a CDN has no replica lag).
PLAUSIBLE = {
    "vault": ["token", "cert", "lock", "signature", "disk", "ratelimit", "dns", "quota"],
    "deploy": ["token", "quota", "lock", "schema", "pool", "disk", "oom", "ratelimit"],
    "vpn": ["cert", "token", "dns", "quota", "ratelimit", "signature", "pool"],
    "sso": ["token", "cert", "signature", "ratelimit", "dns", "lock", "quota", "pool"],
    "billing": ["schema", "lock", "pool", "ratelimit", "signature", "lag", "oom", "quota"],
    "db": ["lag", "pool", "schema", "lock", "disk", "cert", "token", "oom"],
    "k8s": ["quota", "oom", "disk", "cert", "dns", "token", "lock", "ratelimit"],
    "payments": ["signature", "ratelimit", "pool", "schema", "cert", "token", "lag"],
    "mobile": ["cert", "signature", "ratelimit", "token", "quota", "dns", "oom"],
    "cdn": ["cert", "quota", "ratelimit", "dns", "signature", "disk", "token"],
    "mail": ["ratelimit", "quota", "cert", "dns", "signature", "pool", "disk"],
    "search": ["lag", "disk", "oom", "schema", "lock", "quota", "pool"],
    "queue": ["lag", "disk", "pool", "oom", "lock", "quota", "signature"],
    "storage": ["quota", "disk", "signature", "token", "lag", "cert", "dns"],
    "observability": ["disk", "oom", "quota", "ratelimit", "lag", "token", "pool"],
}

TEMPLATES: dict[str, Template] = {
    "token": trust.token,
    "cert": trust.cert,
    "quota": capacity.quota,
    "lock": coordination.lock,
    "schema": coordination.schema,
    "pool": capacity.pool,
    "ratelimit": capacity.ratelimit,
    "lag": coordination.lag,
    "signature": trust.signature,
    "dns": coordination.dns,
    "disk": capacity.disk,
    "oom": capacity.oom,
}


def runbook(sys_: System, mode: str, rng: random.Random, zh: bool) -> Doc:
    """One runbook for one failure mode of one system, in English or Chinese."""
    code = f"ACME-{sys_.number}{MODES[mode]:02d}"
    c = f"acmectl {sys_.slug}"
    team = rng.choice(TEAMS)
    p: dict[str, str] = {
        "c": c,
        "code": code,
        "svc": sys_.service,
        "host": sys_.host,
        "cfg": sys_.config,
        "stage": sys_.stage,
        "up": sys_.upstream,
        "res": sys_.resource,
        "team": team,
        "name": sys_.zh if zh else sys_.en,
    }
    failure = TEMPLATES[mode](sys_, code, c, rng, zh)
    p |= failure.values
    p["msg"] = failure.message
    body = (failure.zh if zh else failure.en).format(**p)
    title = failure.titles[1] if zh else failure.titles[0]
    return Doc(
        path=f"runbooks/{sys_.slug}/{code.lower()}-{mode}.md",
        title=title,
        lang="zh" if zh else "en",
        body=body,
        kind="runbook",
        system=sys_.slug,
        code=code,
        message=failure.message,
        keywords=failure.keywords,
        symptom_en=failure.symptoms[0],
        symptom_zh=failure.symptoms[1],
    )
