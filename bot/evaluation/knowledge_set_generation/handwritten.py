"""The documents written out by hand: reference pages no template makes."""

from __future__ import annotations

from bot.evaluation.knowledge_set_generation.document import Doc

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
