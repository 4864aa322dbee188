"""The eval's questions: each needs one document of the set, phrased the way people ask."""

from __future__ import annotations

import json
import random

from bot.evaluation.knowledge_set_generation.document import Doc
from bot.evaluation.knowledge_set_generation.world import SEED, SYSTEMS


def questions(docs: list[Doc]) -> list[dict[str, object]]:
    """The eval's cases: each needs one document, and is phrased the way people ask."""
    rng = random.Random(SEED + 1)
    by_path = {d.path: d for d in docs}
    runbooks = [d for d in docs if d.kind == "runbook" and d.code]
    picked = rng.sample(runbooks, 36)
    cases: list[dict[str, object]] = []
    styles = ["line", "en", "zh", "mixed", "symptom_en", "symptom_zh"]
    for i, d in enumerate(sorted(picked, key=lambda d: d.path)):
        style = styles[i % len(styles)]
        name_en = next(s.en for s in SYSTEMS if s.slug == d.system)
        name_zh = next(s.zh for s in SYSTEMS if s.slug == d.system)
        turn = i // len(styles)
        if style == "line":
            q, lang = d.message, "en"
        elif style == "en":
            q = [
                f"Our {name_en} job died with {d.code}, what's the fix?",
                f"seeing {d.code} from {name_en} since this morning, how do I fix it?",
                f"what does {d.code} mean and what should I run?",
            ][turn % 3]
            lang = "en"
        elif style == "zh":
            q = [
                f"{name_zh}报 {d.code}，应该怎么处理？",
                f"{d.code} 是什么问题？怎么修",
                f"线上出现 {d.code}，{name_zh}那边要执行什么命令？",
            ][turn % 3]
            lang = "zh"
        elif style == "mixed":
            q = [
                f"发布的时候一直卡在这个错误 `{d.message}`，有人知道怎么弄吗",
                f"{name_en} 这边报了 `{d.message}`，急",
                f"日志里全是 `{d.message}`，怎么修？",
            ][turn % 3]
            lang = "mixed"
        elif style == "symptom_en":
            q, lang = f"Help: {d.symptom_en}. What do I run?", "en"
        else:
            q, lang = f"求助：{d.symptom_zh}，怎么解决？", "zh"
        cases.append({"question": q, "document": d.path, "keywords": d.keywords, "language": lang})
    extra = [
        (
            "what's the error budget gate during canary before promote?",
            "runbooks/deploy/pipeline-stages.md",
            "en",
        ),
        ("主库挂了多久之后会自动切换到从库？切完旧主库怎么处理", "runbooks/db/failover.md", "zh"),
        ("第一次装 ACME Connect，enroll 用哪个 profile？", "help/vpn/setup-zh.md", "mixed"),
        (
            "I lost my phone and have no backup codes, how do I get back into SSO?",
            "help/sso/mfa-reset.md",
            "en",
        ),
        ("客户说重复扣款了，争议期间还会催收吗？", "help/billing/invoice-dispute-zh.md", "zh"),
        ("PAY-E110 from the payments API on retry", "runbooks/payments/error-reference.md", "en"),
        ("iOS app 启动报 M-202，用户那边怎么操作", "help/mobile/crash-codes-zh.md", "mixed"),
        ("drain 节点被 PDB 挡住了怎么办", "runbooks/k8s/node-drain-zh.md", "mixed"),
    ]
    for q, path, lang in extra:
        cases.append(
            {"question": q, "document": path, "keywords": by_path[path].keywords, "language": lang}
        )
    help_docs = sorted(
        (d for d in docs if d.kind == "article" and d.path.endswith(("access.md", "contacts.md"))),
        key=lambda d: d.path,
    )
    for d in rng.sample(help_docs, 6):
        name_en = next(s.en for s in SYSTEMS if s.slug == d.system)
        name_zh = next(s.zh for s in SYSTEMS if s.slug == d.system)
        if d.path.endswith("access.md"):
            q = (
                f"怎么开通 {name_zh} 的 operator 权限？要多久"
                if d.lang == "zh"
                else f"how do I get operator rights on {name_en} and how long does approval take"
            )
        else:
            q = (
                f"{name_zh} 挂了找谁？没人回应多久升级"
                if d.lang == "zh"
                else f"{name_en} is down, who do I page and when do I escalate?"
            )
        cases.append(
            {
                "question": q,
                "document": d.path,
                "keywords": d.keywords,
                "language": "zh" if d.lang == "zh" else "en",
            }
        )
    for n, case in enumerate(cases, 1):
        case["id"] = f"kb-{n:03d}"
    return cases


def render_cases(cases: list[dict[str, object]]) -> str:
    lines = [
        "# Knowledge eval cases, written by bot/evaluation/knowledge_generate.py; do not edit by hand.",
        "# document: the one file under knowledge_set/docs whose content the answer needs.",
        "# keywords: strings an answer drawn from that document contains.",
        "",
    ]
    for c in cases:
        lines.append("[[cases]]")
        for key in ("id", "language", "question", "document", "keywords"):
            lines.append(f"{key} = {json.dumps(c[key], ensure_ascii=False)}")
        lines.append("")
    return "\n".join(lines)
