"""Three help-center articles per system (access, maintenance, contacts), some in Chinese."""

from __future__ import annotations

import random

from bot.evaluation.knowledge_set_generation.document import Doc
from bot.evaluation.knowledge_set_generation.world import TEAMS, WEEKDAYS_EN, WEEKDAYS_ZH, System


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
