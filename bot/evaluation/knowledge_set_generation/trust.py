"""Failure modes of trust: an expired token, a rejected certificate, a bad signature."""

from __future__ import annotations

import random

from bot.evaluation.knowledge_set_generation.failure import Failure
from bot.evaluation.knowledge_set_generation.world import (
    CAS,
    DAYS,
    TTLS,
    System,
)


def token(sys_: System, code: str, c: str, rng: random.Random, zh: bool) -> Failure:
    ttl, ttl2 = rng.sample(TTLS, 2)
    minutes = rng.choice([10, 15, 20, 30, 45])
    values = {"ttl": ttl, "ttl2": ttl2, "min": str(minutes)}
    msg = f"{code}: {sys_.slug} token expired (lease {ttl})"
    kw = [f"{c} token renew", f"--ttl {ttl2}"]
    title_en, title_zh = (
        f"{sys_.en} token expired mid-run ({code})",
        f"{sys_.zh} 令牌过期（{code}）",
    )
    sym_en, sym_zh = (
        f"the {sys_.en} token runs out halfway through a long job",
        f"{sys_.zh} 的 token 用到一半就失效了",
    )
    en = """## Symptom
A job using {svc} stops with:

```
{msg}
```

## Cause
Tokens issued to `{svc}` live for {ttl}. Jobs that run longer than the lease, or that
were queued for hours before starting, present an expired token at the `{stage}` stage.

## Fix
1. Check what is left on the lease: `{c} token inspect --service {svc}`.
2. Renew it with a longer lease: `{c} token renew --service {svc} --ttl {ttl2}`.
3. Re-run the job from the `{stage}` stage; earlier stages do not need the token.

## Prevention
Set `renew_before = "{min}m"` in `{cfg}` so the agent renews ahead of expiry.
Owner: team {team}.
"""
    zhb = """## 现象
使用 {svc} 的任务中断，日志里出现：

```
{msg}
```

## 原因
发给 `{svc}` 的 token 有效期只有 {ttl}。任务运行时间超过租期，或者排队太久才开始，
到 `{stage}` 阶段时 token 已经过期。

## 处理步骤
1. 查看剩余租期：`{c} token inspect --service {svc}`。
2. 用更长的租期续期：`{c} token renew --service {svc} --ttl {ttl2}`。
3. 从 `{stage}` 阶段重新运行任务，之前的阶段不需要 token。

## 预防
在 `{cfg}` 中设置 `renew_before = "{min}m"`，让 agent 在过期前自动续期。
负责团队：{team}。
"""
    return Failure(values, msg, kw, (title_en, title_zh), (sym_en, sym_zh), en, zhb)


def cert(sys_: System, code: str, c: str, rng: random.Random, zh: bool) -> Failure:
    ca = rng.choice(CAS)
    days = rng.choice(DAYS)
    values = {"ca": ca, "days": str(days)}
    msg = f"{code}: certificate for {sys_.host} not valid (x509: certificate has expired or is not yet valid)"
    kw = [f"{c} ca-bundle pull", ca]
    title_en, title_zh = (
        f"{sys_.en}: certificate rejected by clients ({code})",
        f"{sys_.zh} 证书校验失败（{code}）",
    )
    sym_en, sym_zh = (
        f"clients reject the {sys_.en} certificate with an x509 error",
        f"连接 {sys_.zh} 时报 x509 证书错误",
    )
    en = """## Symptom
Clients of {name} fail the TLS handshake:

```
{msg}
```

## Cause
The internal CA `{ca}` rotates its intermediate every {days} days. Hosts with a cached
CA bundle, or with a clock more than two seconds off, reject the new chain.

## Fix
1. Check the clock: `chronyc tracking` must show an offset under 2 s.
2. Pull the current bundle: `{c} ca-bundle pull --ca {ca}`.
3. Restart `{svc}` so it reloads the bundle.

Do not disable verification; the `{ca}` chain is pinned in `{cfg}`.
"""
    zhb = """## 现象
访问 {name} 时 TLS 握手失败：

```
{msg}
```

## 原因
内部 CA `{ca}` 每 {days} 天轮换一次中间证书。缓存了旧 CA 包的主机，或者时钟偏差超过
两秒的主机，会拒绝新的证书链。

## 处理步骤
1. 检查时钟：`chronyc tracking` 显示的偏差必须小于 2 秒。
2. 拉取最新证书包：`{c} ca-bundle pull --ca {ca}`。
3. 重启 `{svc}` 以重新加载证书包。

不要关闭证书校验；`{ca}` 证书链已固定在 `{cfg}` 里。
"""
    return Failure(values, msg, kw, (title_en, title_zh), (sym_en, sym_zh), en, zhb)


def signature(sys_: System, code: str, c: str, rng: random.Random, zh: bool) -> Failure:
    kid = f"k{rng.randint(10, 99)}"
    values = {"kid": kid}
    msg = f"{code}: request signature mismatch (key id {kid})"
    kw = [f"secret/{sys_.slug}/signing/{kid}", "300 seconds"]
    title_en, title_zh = (
        f"{sys_.en}: signed requests rejected ({code})",
        f"{sys_.zh} 请求签名不匹配（{code}）",
    )
    sym_en, sym_zh = (
        f"{sys_.en} rejects our signed requests after the key rotation",
        f"密钥轮换后 {sys_.zh} 拒绝我们的签名请求",
    )
    en = """## Symptom
Signed calls are refused:

```
{msg}
```

## Cause
Signing keys rotate on the first of each month; a client still holding key `{kid}`'s old
secret, or with a clock more than 300 seconds off, fails verification.

## Fix
1. Read the current secret from `secret/{slug}/signing/{kid}` in Vault.
2. Update `{cfg}` and restart {svc}.
3. Check the clock: timestamps older than 300 seconds are rejected as replays.
"""
    zhb = """## 现象
签名请求被拒绝：

```
{msg}
```

## 原因
签名密钥每月一号轮换；客户端仍使用 `{kid}` 的旧密钥，或时钟偏差超过 300 秒（300 seconds），校验都会失败。

## 处理步骤
1. 从 Vault 的 `secret/{slug}/signing/{kid}` 读取当前密钥。
2. 更新 `{cfg}` 并重启 {svc}。
3. 检查时钟：时间戳早于 300 秒的请求会被当作重放拒绝。
"""
    values["slug"] = sys_.slug
    return Failure(values, msg, kw, (title_en, title_zh), (sym_en, sym_zh), en, zhb)
