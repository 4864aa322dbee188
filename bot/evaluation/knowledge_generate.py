"""Regenerate the shipped sample knowledge base the eval retrieves from.

    python -m bot.evaluation.knowledge_generate          # write knowledge_set/docs and cases.toml
    python -m bot.evaluation.knowledge_generate --check  # exit 1 when a committed file differs

The set describes a fictional company, ACME: runbooks for its internal error codes
(`ACME-4012: vault token expired`) and help-center articles, a third of them in Chinese.
The codes, commands and values are invented, so no model can answer from what it
already knows; the right document has to be retrieved. Systems share failure modes
(a token expires in Vault and in SSO, with different fixes) and codes differ by one
digit across systems, so near-miss documents sit beside every target.

Everything is drawn from one seeded generator: the output is the same on every run.
Run it from a source checkout: it writes next to this file.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).parent / "knowledge_set"
SEED = 26


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


@dataclass
class Doc:
    path: str
    title: str
    lang: str
    body: str
    kind: str
    system: str
    code: str = ""
    message: str = ""
    keywords: list[str] = field(default_factory=list)
    symptom_en: str = ""
    symptom_zh: str = ""


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
    if mode == "token":
        ttl, ttl2 = rng.sample(TTLS, 2)
        minutes = rng.choice([10, 15, 20, 30, 45])
        p |= {"ttl": ttl, "ttl2": ttl2, "min": str(minutes)}
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
    elif mode == "cert":
        ca = rng.choice(CAS)
        days = rng.choice(DAYS)
        p |= {"ca": ca, "days": str(days)}
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
    elif mode == "quota":
        limit = rng.choice([20, 50, 100, 200, 500])
        form = f"QR-{rng.randint(100, 999)}"
        days = rng.choice(DAYS)
        p |= {"limit": str(limit), "form": form, "days": str(days)}
        msg = f"{code}: quota exceeded for {sys_.resource} ({limit}/{limit})"
        kw = [form, f"--older-than {days}d"]
        title_en, title_zh = (
            f"{sys_.en}: team quota reached ({code})",
            f"{sys_.zh} 配额用尽（{code}）",
        )
        sym_en, sym_zh = (
            f"we hit the limit on {sys_.resource} and cannot create more",
            f"{sys_.zh} 的 {sys_.resource} 到上限了，新建不了",
        )
        en = """## Symptom
Creating more {res} fails:

```
{msg}
```

## Cause
Each team gets {limit} {res} in {name}. Stale ones count until they are deleted.

## Fix
1. See what the team holds: `{c} quota show --team <team> --resource "{res}"`.
2. Free space at once: `{c} prune --older-than {days}d --dry-run`, then without `--dry-run`.
3. For a lasting raise, file form {form} in the help portal; team {team} approves within a day.
"""
        zhb = """## 现象
新建 {res} 失败：

```
{msg}
```

## 原因
{name} 中每个团队最多 {limit} 个 {res}，过期未删的也计入配额。

## 处理步骤
1. 查看团队占用：`{c} quota show --team <team> --resource "{res}"`。
2. 立即释放：先运行 `{c} prune --older-than {days}d --dry-run`，确认后去掉 `--dry-run`。
3. 需要长期提高配额，在帮助门户提交表单 {form}，由 {team} 团队在一天内审批。
"""
    elif mode == "lock":
        lock = rng.choice(LOCKS)
        minutes = rng.choice([15, 20, 30, 45, 60])
        p |= {"lock": lock, "min": str(minutes)}
        msg = f"{code}: lock '{lock}' held by {sys_.service}-7f9c since 02:14 UTC"
        kw = [f"{c} lock break {lock}", f"{minutes} 分钟" if zh else f"{minutes} minutes"]
        title_en, title_zh = (
            f"{sys_.en}: stuck '{lock}' lock ({code})",
            f"{sys_.zh} 锁未释放（{code}）",
        )
        sym_en, sym_zh = (
            f"a {sys_.en} lock from a crashed run blocks everything",
            f"{sys_.zh} 有个锁一直不释放，后面的都卡住了",
        )
        en = """## Symptom
Every new run waits and then fails with:

```
{msg}
```

## Cause
A run that crashed kept the `{lock}` lock. The lock has no expiry on purpose: breaking it
while the holder still writes corrupts state.

## Fix
1. Check the holder: `{c} lock status {lock}`. If its heartbeat is younger than {min} minutes, wait.
2. If the holder has been silent for more than {min} minutes, break it:
   `{c} lock break {lock} --reason "<ticket>"`.
3. Post the ticket in #acme-{team}; the next run picks the lock up by itself.
"""
        zhb = """## 现象
新的运行都在等待，最后失败：

```
{msg}
```

## 原因
某次崩溃的运行没有释放 `{lock}` 锁。这个锁故意没有过期时间：持有者还在写入时强行释放会损坏状态。

## 处理步骤
1. 查看持有者：`{c} lock status {lock}`。如果心跳在 {min} 分钟以内，请等待。
2. 持有者超过 {min} 分钟没有心跳，再强制释放：
   `{c} lock break {lock} --reason "<工单号>"`。
3. 在 #acme-{team} 频道贴出工单号；下一次运行会自动获取锁。
"""
    elif mode == "schema":
        v1 = rng.randint(120, 480)
        v2 = v1 - rng.randint(1, 4)
        p |= {"v1": str(v1), "v2": str(v2)}
        msg = f"{code}: schema version mismatch: expected {v1}, found {v2}"
        kw = [f"{c} migrate up --to {v1}", "migrate status"]
        title_en, title_zh = (
            f"{sys_.en}: service and schema out of step ({code})",
            f"{sys_.zh} 表结构版本不一致（{code}）",
        )
        sym_en, sym_zh = (
            f"the new {sys_.en} release refuses to start because migrations did not run",
            f"{sys_.zh} 新版本起不来，好像迁移没跑",
        )
        en = """## Symptom
The new release of {svc} refuses to start:

```
{msg}
```

## Cause
The `migrate` step was skipped or failed, so the code expects schema {v1} while the
database is still at {v2}.

## Fix
1. See the applied migrations: `{c} migrate status`.
2. Apply the missing ones: `{c} migrate up --to {v1}`.
3. Restart {svc}. If the schema is *ahead* of the code, roll the service forward; never run `migrate down` in production.
"""
        zhb = """## 现象
{svc} 新版本拒绝启动：

```
{msg}
```

## 原因
`migrate` 步骤被跳过或失败，代码需要 schema {v1}，数据库仍停在 {v2}。

## 处理步骤
1. 查看已执行的迁移：`{c} migrate status`。
2. 执行缺失的迁移：`{c} migrate up --to {v1}`。
3. 重启 {svc}。如果 schema 比代码更新，请升级服务；生产环境禁止执行 `migrate down`。
"""
    elif mode == "pool":
        mx = rng.choice([20, 40, 64, 100, 128])
        new = mx * 2
        sec = rng.choice([30, 60, 120, 300])
        p |= {"mx": str(mx), "new": str(new), "sec": str(sec)}
        msg = f"{code}: connection pool exhausted (max {mx}, waiting 37)"
        kw = [f"pool_size = {new}", f"--older-than {sec}s"]
        title_en, title_zh = (
            f"{sys_.en}: no free connections ({code})",
            f"{sys_.zh} 连接池耗尽（{code}）",
        )
        sym_en, sym_zh = (
            f"requests to {sys_.en} hang and then time out waiting for a connection",
            f"{sys_.zh} 请求卡住，等不到连接",
        )
        en = """## Symptom
Requests queue and then time out:

```
{msg}
```

## Cause
`{svc}` opens at most {mx} connections. A leak (transactions left open) or a traffic
spike uses them all.

## Fix
1. Find long-held connections: `{c} conns top --older-than {sec}s`; kill the leaking client.
2. If the load is real, raise `pool_size = {new}` in `{cfg}` and redeploy.
3. Keep `pool_size` below the server's limit; ask team {team} before going higher.
"""
        zhb = """## 现象
请求排队后超时：

```
{msg}
```

## 原因
`{svc}` 最多打开 {mx} 个连接。连接泄漏（事务未关闭）或流量突增都会把连接用完。

## 处理步骤
1. 找出长时间占用的连接：`{c} conns top --older-than {sec}s`，结束泄漏的客户端。
2. 如果确实是负载增加，在 `{cfg}` 中把 `pool_size = {new}` 并重新部署。
3. `pool_size` 要低于服务端上限；更高的值先找 {team} 团队确认。
"""
    elif mode == "ratelimit":
        rps = rng.choice([50, 100, 200, 400])
        sec = rng.choice([5, 10, 30, 60])
        p |= {"rps": str(rps), "sec": str(sec)}
        msg = f"{code}: upstream {sys_.upstream} returned 429, retry after {sec}s"
        kw = [f"{rps} requests per second", f"{c} budget request"]
        title_en, title_zh = (
            f"{sys_.en}: throttled by {sys_.upstream} ({code})",
            f"{sys_.zh} 被上游限流（{code}）",
        )
        sym_en, sym_zh = (
            f"{sys_.en} calls to {sys_.upstream} get throttled",
            f"{sys_.zh} 调用 {sys_.upstream} 被限流了",
        )
        en = """## Symptom
Calls through {name} fail in bursts:

```
{msg}
```

## Cause
`{up}` grants each team {rps} requests per second, shared by all its services.

## Fix
1. Honour the `Retry-After` value; the client in `{cfg}` should back off, not retry at once.
2. Spread batch jobs; check usage with `{c} budget show`.
3. Need more? `{c} budget request --rps <n>`; team {team} reviews it.
"""
        zhb = """## 现象
经由 {name} 的调用成批失败：

```
{msg}
```

## 原因
`{up}` 给每个团队的额度是每秒 {rps} 个请求（{rps} requests per second），团队所有服务共享。

## 处理步骤
1. 遵守 `Retry-After`；`{cfg}` 里的客户端应当退避，而不是立即重试。
2. 错开批处理任务；用 `{c} budget show` 查看用量。
3. 需要更多额度：`{c} budget request --rps <n>`，由 {team} 团队审核。
"""
    elif mode == "lag":
        thr = rng.choice([5, 10, 30])
        page = rng.choice([60, 120, 300])
        flag = f"{sys_.slug.upper()}_READ_FROM"
        p |= {"thr": str(thr), "page": str(page), "flag": flag}
        msg = f"{code}: replica lag 184s exceeds threshold {thr}s"
        kw = [f"{flag}=primary", "/page dba"]
        title_en, title_zh = (
            f"{sys_.en}: replicas behind ({code})",
            f"{sys_.zh} 副本延迟过高（{code}）",
        )
        sym_en, sym_zh = (
            f"reads from {sys_.en} return stale data, replicas are behind",
            f"{sys_.zh} 读到的是旧数据，副本落后了",
        )
        en = """## Symptom
Reads return old data and the health check says:

```
{msg}
```

## Fix
1. Check the replicas: `{c} replicas --lag`.
2. Move reads to the primary for now: set `{flag}=primary` for {svc}.
3. If lag stays above {page}s, page the database on-call with `/page dba`.
4. Set `{flag}` back to `replica` once lag is under {thr}s for ten minutes.
"""
        zhb = """## 现象
读到旧数据，健康检查报告：

```
{msg}
```

## 处理步骤
1. 查看副本：`{c} replicas --lag`。
2. 暂时把读请求切到主库：为 {svc} 设置 `{flag}=primary`。
3. 延迟持续超过 {page} 秒，用 `/page dba` 呼叫数据库值班。
4. 延迟连续十分钟低于 {thr} 秒后，把 `{flag}` 改回 `replica`。
"""
    elif mode == "signature":
        kid = f"k{rng.randint(10, 99)}"
        p |= {"kid": kid}
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
        p["slug"] = sys_.slug
    elif mode == "dns":
        zone = rng.choice(ZONES)
        ns = rng.choice(NAMESERVERS)
        p |= {"zone": zone, "ns": ns}
        msg = f"{code}: cannot resolve {sys_.slug}-api.{zone}"
        kw = [f"nameserver {ns}", zone]
        title_en, title_zh = (
            f"{sys_.en}: internal hostname does not resolve ({code})",
            f"{sys_.zh} 内部域名解析失败（{code}）",
        )
        sym_en, sym_zh = (
            f"my laptop cannot find the {sys_.en} internal host name",
            f"电脑解析不了 {sys_.zh} 的内网域名",
        )
        en = """## Symptom
```
{msg}
```

## Cause
The zone `{zone}` is served only inside the VPN and the clusters.

## Fix
1. Connect the VPN (`acme-connect up`).
2. Check `/etc/resolv.conf` lists `nameserver {ns}` first.
3. Flush the cache: `sudo resolvectl flush-caches` (Linux) or `sudo killall -HUP mDNSResponder` (macOS).
"""
        zhb = """## 现象
```
{msg}
```

## 原因
`{zone}` 域只在 VPN 和集群内部提供解析。

## 处理步骤
1. 连接 VPN（`acme-connect up`）。
2. 检查 `/etc/resolv.conf` 第一行是 `nameserver {ns}`。
3. 清除缓存：Linux 用 `sudo resolvectl flush-caches`，macOS 用 `sudo killall -HUP mDNSResponder`。
"""
    elif mode == "disk":
        keep = rng.choice([3, 5, 7, 10])
        size = rng.choice(["50Gi", "100Gi", "200Gi", "500Gi"])
        p |= {"keep": str(keep), "size": size}
        msg = f"{code}: no space left on volume {sys_.slug}-data (97% used)"
        kw = [f"{c} volume prune --keep {keep}", size]
        title_en, title_zh = (
            f"{sys_.en}: data volume full ({code})",
            f"{sys_.zh} 数据盘写满（{code}）",
        )
        sym_en, sym_zh = (
            f"the {sys_.en} disk is full and writes fail",
            f"{sys_.zh} 磁盘满了，写不进去",
        )
        en = """## Symptom
Writes fail with:

```
{msg}
```

## Fix
1. Remove old snapshots, keeping the newest {keep}: `{c} volume prune --keep {keep}`.
2. If usage is still above 85%, grow the claim to {size} in `{cfg}` (volumes only grow).
3. Tell team {team}; the alert fires again at 90%.
"""
        zhb = """## 现象
写入失败：

```
{msg}
```

## 处理步骤
1. 删除旧快照，只保留最新的 {keep} 个：`{c} volume prune --keep {keep}`。
2. 使用率仍高于 85%，在 `{cfg}` 中把容量扩到 {size}（卷只能扩不能缩）。
3. 通知 {team} 团队；使用率到 90% 会再次告警。
"""
    else:  # oom
        mem = rng.choice(["512Mi", "1Gi", "2Gi", "4Gi"])
        mem2 = {"512Mi": "1Gi", "1Gi": "2Gi", "2Gi": "4Gi", "4Gi": "8Gi"}[mem]
        p |= {"mem": mem, "mem2": mem2}
        msg = f"{code}: worker {sys_.service}-3 killed (OOMKilled, limit {mem})"
        kw = [f"memory: {mem2}", f"/var/lib/{sys_.service}/heap"]
        title_en, title_zh = (
            f"{sys_.en}: workers killed for memory ({code})",
            f"{sys_.zh} 进程内存超限被杀（{code}）",
        )
        sym_en, sym_zh = (
            f"{sys_.en} workers keep restarting, OOMKilled",
            f"{sys_.zh} 的 worker 一直重启，显示 OOMKilled",
        )
        en = """## Symptom
Workers restart in a loop:

```
{msg}
```

## Fix
1. Look at the last heap dump under `/var/lib/{svc}/heap` before raising anything.
2. If the growth is expected, set `memory: {mem2}` under `resources.limits` in `{cfg}`.
3. Redeploy; team {team} reviews limits above {mem2}.
"""
        zhb = """## 现象
worker 循环重启：

```
{msg}
```

## 处理步骤
1. 先查看 `/var/lib/{svc}/heap` 下最新的堆转储，再决定是否加内存。
2. 内存增长符合预期时，在 `{cfg}` 的 `resources.limits` 下设置 `memory: {mem2}`。
3. 重新部署；超过 {mem2} 的限制需要 {team} 团队审核。
"""
    p["msg"] = msg
    body = (zhb if zh else en).format(**p)
    title = title_zh if zh else title_en
    return Doc(
        path=f"runbooks/{sys_.slug}/{code.lower()}-{mode}.md",
        title=title,
        lang="zh" if zh else "en",
        body=body,
        kind="runbook",
        system=sys_.slug,
        code=code,
        message=msg,
        keywords=kw,
        symptom_en=sym_en,
        symptom_zh=sym_zh,
    )


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


def articles(sys_: System, rng: random.Random, zh: list[bool]) -> list[Doc]:
    """Three help-center articles per system: access, maintenance, contacts."""
    form = f"AR-{rng.randint(1000, 9999)}"
    hours = rng.choice([4, 8, 24, 48])
    day = rng.randrange(7)
    hour = rng.choice(["01:00", "02:30", "04:00", "22:00"])
    alias = f"oncall-{sys_.slug}-{rng.choice(['a', 'b', 'c'])}"
    minutes = rng.choice([15, 20, 30])
    team = rng.choice(TEAMS)
    p = {
        "name": sys_.zh,
        "slug": sys_.slug,
        "form": form,
        "hours": hours,
        "team": team,
        "dayen": WEEKDAYS_EN[day],
        "dayzh": WEEKDAYS_ZH[day],
        "hour": hour,
        "alias": alias,
        "min": minutes,
    }
    out: list[Doc] = []
    if zh[0]:
        t, b = (
            f"申请 {sys_.zh} 权限",
            """## 申请方式
1. 在帮助门户打开表单 {form}：https://help.acme.example/forms/{form}
2. 选择角色（viewer、operator 或 admin），写明用途。
3. 由 {team} 团队审批，通常在 {hours} 小时内完成。

## 注意
- admin 角色需要直属经理二次确认。
- 离职或转岗时权限自动回收。
""",
        )
    else:
        t, b = (
            f"Getting access to {sys_.en}",
            """## How to ask
1. Open form {form} in the help portal: https://help.acme.example/forms/{form}
2. Pick a role (viewer, operator or admin) and say what you need it for.
3. Team {team} approves requests, usually within {hours} hours.

## Good to know
- The admin role needs a second approval from your manager.
- Access is removed automatically when you change teams or leave.
""",
        )
    out.append(
        Doc(
            f"help/{sys_.slug}/access.md",
            t,
            "zh" if zh[0] else "en",
            b.format(**p),
            "article",
            sys_.slug,
            keywords=[form, f"{hours} 小时" if zh[0] else f"{hours} hours"],
        )
    )
    if zh[1]:
        t, b = (
            f"{sys_.zh} 维护窗口",
            """## 固定窗口
每{dayzh} {hour} UTC 起两小时为维护窗口，期间可能短暂不可用。

## 查看状态
状态页：https://status.acme.example/{slug}。
发布冻结期间（季度末最后一周）不安排维护。
""",
        )
    else:
        t, b = (
            f"{sys_.en} maintenance windows",
            """## Regular window
Every {dayen} from {hour} UTC for two hours; short outages are possible.

## Status
Status page: https://status.acme.example/{slug}.
No maintenance during the release freeze (the last week of each quarter).
""",
        )
    out.append(
        Doc(
            f"help/{sys_.slug}/maintenance.md",
            t,
            "zh" if zh[1] else "en",
            b.format(**p),
            "article",
            sys_.slug,
            keywords=[hour, WEEKDAYS_ZH[day] if zh[1] else WEEKDAYS_EN[day]],
        )
    )
    if zh[2]:
        t, b = (
            f"{sys_.zh} 联系人与升级流程",
            """## 日常问题
在 Slack 频道 #acme-{slug}-help 提问。

## 紧急故障
呼叫值班别名 `{alias}`。{min} 分钟内无人响应，升级到 {team} 团队负责人。

## 严重级别
- SEV1：全部用户不可用。
- SEV2：部分功能不可用。
- SEV3：有绕过方法。
""",
        )
    else:
        t, b = (
            f"Who to contact about {sys_.en}",
            """## Everyday questions
Ask in #acme-{slug}-help on Slack.

## Outages
Page the on-call alias `{alias}`. If nobody answers within {min} minutes, escalate to the
lead of team {team}.

## Severity
- SEV1: every user is affected.
- SEV2: a feature is down for some users.
- SEV3: a workaround exists.
""",
        )
    out.append(
        Doc(
            f"help/{sys_.slug}/contacts.md",
            t,
            "zh" if zh[2] else "en",
            b.format(**p),
            "article",
            sys_.slug,
            keywords=[alias, f"{minutes} 分钟" if zh[2] else f"{minutes} minutes"],
        )
    )
    return out


HANDWRITTEN = [
    Doc(
        "runbooks/deploy/pipeline-stages.md",
        "How a deploy moves through the pipeline",
        "en",
        """## Stages
1. `build`: the image is built and signed.
2. `test`: unit and contract tests; flaky tests are quarantined, never retried blindly.
3. `fetch-secrets`: the runner reads secrets from Vault with its own token.
4. `migrate`: database migrations run with `acmectl deploy migrate up`; a failure here stops the release.
5. `canary`: 5% of traffic for 20 minutes; the error budget gate is 0.3%.
6. `promote`: the rest of the traffic, in three waves.

## When `migrate` fails
Read the runner log for the ACME-45xx code and follow that runbook. Never re-run `promote`
by hand while `migrate` is red.
""",
        "runbook",
        "deploy",
        keywords=["0.3%", "20 minutes"],
    ),
    Doc(
        "runbooks/db/failover.md",
        "Planned and unplanned database failover",
        "en",
        """## Before you start
Only the database on-call runs a failover. Announce it in #acme-db-help.

## Planned failover
1. `acmectl db failover plan --target pg-replica-2` shows the lag and the clients.
2. `acmectl db failover run --target pg-replica-2 --max-lag 0` promotes the replica.
3. pgbouncer reloads automatically; check `SHOW POOLS;` after two minutes.

## Unplanned failover
If the primary is gone for more than 90 seconds, the controller promotes the replica with the
lowest lag. Afterwards run `acmectl db rejoin --old-primary` to rebuild the old primary as a replica.
""",
        "runbook",
        "db",
        keywords=["acmectl db failover run", "90 seconds"],
    ),
    Doc(
        "help/vpn/setup-zh.md",
        "安装并配置 ACME Connect 客户端",
        "zh",
        """## 下载
从 https://help.acme.example/downloads/acme-connect 下载 ACME Connect 4.2。

## 首次连接
1. 运行 `acme-connect enroll --profile corp-apac`。
2. 用 SSO 登录，并在手机上确认 MFA 推送。
3. 成功后状态栏图标变绿。

## 常见问题
- 报错 `TUN device busy`：先退出其他 VPN 客户端。
- 每 12 小时需要重新认证一次。
""",
        "article",
        "vpn",
        keywords=["corp-apac", "12 小时"],
    ),
    Doc(
        "help/sso/mfa-reset.md",
        "Lost phone: resetting multi-factor sign-in",
        "en",
        """## If you still have a backup code
Sign in at https://sso.acme.example with a backup code, then enrol the new phone under
*Security → Devices*.

## If you have no backup code
1. Call the service desk at extension 4400 from your desk phone.
2. They verify you with your employee id and manager's name.
3. You get a one-time link valid for 30 minutes.
""",
        "article",
        "sso",
        keywords=["4400", "30 minutes"],
    ),
    Doc(
        "help/billing/invoice-dispute-zh.md",
        "客户对账单有异议时怎么处理",
        "zh",
        """## 受理
1. 在计费后台找到发票，点击「发起争议」。
2. 选择原因：重复扣款、金额错误、服务未交付。
3. 争议期间该发票暂停催收，最长 21 天。

## 退款
退款金额超过 5000 元需要财务总监审批，审批通过后 3 个工作日内原路退回。
""",
        "article",
        "billing",
        keywords=["21 天", "5000"],
    ),
    Doc(
        "runbooks/payments/error-reference.md",
        "Payments API error reference",
        "en",
        """## Client errors
| code | meaning | what the caller should do |
| --- | --- | --- |
| `PAY-E101` | card declined by issuer | ask for another card; do not retry |
| `PAY-E102` | 3-D Secure not completed | send the customer back to the challenge URL |
| `PAY-E110` | idempotency key reused with a different body | generate a new `Idempotency-Key` |
| `PAY-E120` | currency not enabled for merchant | enable it in the merchant console |

## Server errors
`PAY-E500` is retryable with the same `Idempotency-Key` after 2 seconds, at most three times.
""",
        "runbook",
        "payments",
        keywords=["Idempotency-Key", "PAY-E110"],
    ),
    Doc(
        "help/mobile/crash-codes-zh.md",
        "移动端启动崩溃代码说明",
        "zh",
        """## 代码
- `M-201`：远程配置下载失败，检查 `RemoteConfig.plist` 中的 `configHost`。
- `M-202`：本地数据库迁移失败，让用户在设置里点「清除缓存」后重启。
- `M-305`：推送证书过期，需要在 Apple 开发者后台重新签发。

## 收集日志
让用户在「设置 → 关于」连点版本号五次，打开诊断模式后上传日志。
""",
        "article",
        "mobile",
        keywords=["五次", "清除缓存"],
    ),
    Doc(
        "runbooks/k8s/node-drain-zh.md",
        "Kubernetes 节点排空与维护",
        "zh",
        """## 排空节点
1. `kubectl cordon <node>` 停止调度。
2. `kubectl drain <node> --ignore-daemonsets --delete-emptydir-data --timeout=600s`。
3. PodDisruptionBudget 阻止排空时，不要删除 PDB，先联系服务负责人扩容。

## 恢复
维护完成后 `kubectl uncordon <node>`，观察 10 分钟内 Pod 分布是否均衡。
""",
        "runbook",
        "k8s",
        keywords=["--timeout=600s", "PodDisruptionBudget"],
    ),
]


def build() -> list[Doc]:
    rng = random.Random(SEED)
    docs: list[Doc] = []
    count = 0
    for sys_ in SYSTEMS:
        modes = rng.sample(PLAUSIBLE[sys_.slug], 7)
        if sys_.slug == "vault" and "token" not in modes:
            modes[0] = "token"
        for mode in sorted(modes, key=MODES.__getitem__):
            # Every third generated document is in Chinese.
            docs.append(runbook(sys_, mode, rng, zh=count % 3 == 2))
            count += 1
        flags = [(count + i) % 3 == 2 for i in range(3)]
        docs.extend(articles(sys_, rng, flags))
        count += 3
    docs.extend(HANDWRITTEN)
    return docs


def render(doc: Doc) -> str:
    tags = [doc.kind, doc.system]
    header = f"---\ntitle: {json.dumps(doc.title, ensure_ascii=False)}\nlang: {doc.lang}\ntags: {json.dumps(tags)}\n---\n\n"
    return header + f"# {doc.title}\n\n" + doc.body


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


def outputs() -> dict[Path, str]:
    docs = build()
    files = {ROOT / "docs" / d.path: render(d) for d in docs}
    files[ROOT / "cases.toml"] = render_cases(questions(docs))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed file differs")
    args = parser.parse_args(argv)
    files = outputs()
    if args.check:
        stale = [
            p
            for p, text in files.items()
            if not p.exists() or p.read_text(encoding="utf-8") != text
        ]
        present = set((ROOT / "docs").rglob("*.md")) if (ROOT / "docs").exists() else set()
        extra = sorted(present - set(files))
        for path in [*stale, *extra]:
            print(f"differs: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale or extra else 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(files) - 1} documents and cases.toml under {ROOT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
