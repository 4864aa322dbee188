"""Failure modes of capacity: quotas, pools, rate limits, full disks, memory."""

from __future__ import annotations

import random

from bot.evaluation.knowledge_set_generation.failure import Failure
from bot.evaluation.knowledge_set_generation.world import (
    DAYS,
    System,
)


def quota(sys_: System, code: str, c: str, rng: random.Random, zh: bool) -> Failure:
    limit = rng.choice([20, 50, 100, 200, 500])
    form = f"QR-{rng.randint(100, 999)}"
    days = rng.choice(DAYS)
    values = {"limit": str(limit), "form": form, "days": str(days)}
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
    return Failure(values, msg, kw, (title_en, title_zh), (sym_en, sym_zh), en, zhb)


def pool(sys_: System, code: str, c: str, rng: random.Random, zh: bool) -> Failure:
    mx = rng.choice([20, 40, 64, 100, 128])
    new = mx * 2
    sec = rng.choice([30, 60, 120, 300])
    values = {"mx": str(mx), "new": str(new), "sec": str(sec)}
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
    return Failure(values, msg, kw, (title_en, title_zh), (sym_en, sym_zh), en, zhb)


def ratelimit(sys_: System, code: str, c: str, rng: random.Random, zh: bool) -> Failure:
    rps = rng.choice([50, 100, 200, 400])
    sec = rng.choice([5, 10, 30, 60])
    values = {"rps": str(rps), "sec": str(sec)}
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
    return Failure(values, msg, kw, (title_en, title_zh), (sym_en, sym_zh), en, zhb)


def disk(sys_: System, code: str, c: str, rng: random.Random, zh: bool) -> Failure:
    keep = rng.choice([3, 5, 7, 10])
    size = rng.choice(["50Gi", "100Gi", "200Gi", "500Gi"])
    values = {"keep": str(keep), "size": size}
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
    return Failure(values, msg, kw, (title_en, title_zh), (sym_en, sym_zh), en, zhb)


def oom(sys_: System, code: str, c: str, rng: random.Random, zh: bool) -> Failure:
    mem = rng.choice(["512Mi", "1Gi", "2Gi", "4Gi"])
    mem2 = {"512Mi": "1Gi", "1Gi": "2Gi", "2Gi": "4Gi", "4Gi": "8Gi"}[mem]
    values = {"mem": mem, "mem2": mem2}
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
    return Failure(values, msg, kw, (title_en, title_zh), (sym_en, sym_zh), en, zhb)
