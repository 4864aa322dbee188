"""Failure modes of coordination: stuck locks, schema drift, replica lag, DNS."""

from __future__ import annotations

import random

from bot.evaluation.knowledge_set_generation.failure import Failure
from bot.evaluation.knowledge_set_generation.world import (
    LOCKS,
    NAMESERVERS,
    ZONES,
    System,
)


def lock(sys_: System, code: str, c: str, rng: random.Random, zh: bool) -> Failure:
    lock = rng.choice(LOCKS)
    minutes = rng.choice([15, 20, 30, 45, 60])
    values = {"lock": lock, "min": str(minutes)}
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
    return Failure(values, msg, kw, (title_en, title_zh), (sym_en, sym_zh), en, zhb)


def schema(sys_: System, code: str, c: str, rng: random.Random, zh: bool) -> Failure:
    v1 = rng.randint(120, 480)
    v2 = v1 - rng.randint(1, 4)
    values = {"v1": str(v1), "v2": str(v2)}
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
    return Failure(values, msg, kw, (title_en, title_zh), (sym_en, sym_zh), en, zhb)


def lag(sys_: System, code: str, c: str, rng: random.Random, zh: bool) -> Failure:
    thr = rng.choice([5, 10, 30])
    page = rng.choice([60, 120, 300])
    flag = f"{sys_.slug.upper()}_READ_FROM"
    values = {"thr": str(thr), "page": str(page), "flag": flag}
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
    return Failure(values, msg, kw, (title_en, title_zh), (sym_en, sym_zh), en, zhb)


def dns(sys_: System, code: str, c: str, rng: random.Random, zh: bool) -> Failure:
    zone = rng.choice(ZONES)
    ns = rng.choice(NAMESERVERS)
    values = {"zone": zone, "ns": ns}
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
    return Failure(values, msg, kw, (title_en, title_zh), (sym_en, sym_zh), en, zhb)
