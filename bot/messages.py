"""Every sentence supportbot says to a user, in English and Chinese.

Prompts for the model live in `prompts/`; this module holds only what people read.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Language(StrEnum):
    ENGLISH = "en"
    CHINESE = "zh"


class Message(StrEnum):
    WORKING_ON_SCREENSHOT = "working_on_screenshot"
    WORKING = "working"
    DEFAULT_QUESTION = "default_question"
    EMPTY_ANSWER = "empty_answer"
    MODEL_UNAVAILABLE = "model_unavailable"
    GENERATION_FAILED = "generation_failed"
    INTERNAL_ERROR = "internal_error"
    SKIPPED_FILE = "skipped_file"
    REASON_HOST_NOT_ALLOWED = "reason_host_not_allowed"
    REASON_TOO_LARGE = "reason_too_large"
    REASON_NOT_AN_IMAGE = "reason_not_an_image"
    REASON_LOGIN_PAGE = "reason_login_page"
    REASON_DOWNLOAD_FAILED = "reason_download_failed"
    REASON_CORRUPT = "reason_corrupt"
    REASON_NOT_SHARED = "reason_not_shared"
    REASON_TOO_MANY = "reason_too_many"
    REASON_TOO_MANY_PIXELS = "reason_too_many_pixels"
    WAITING_IN_LINE = "waiting_in_line"
    RATE_LIMITED_USER = "rate_limited_user"
    RATE_LIMITED_CHANNEL = "rate_limited_channel"
    ENGINE_BUSY = "engine_busy"
    QUEUE_TIMEOUT = "queue_timeout"
    GENERATION_TIMEOUT = "generation_timeout"
    ANSWER_BROKE_OFF = "answer_broke_off"
    QUESTION_DELETED = "question_deleted"
    RESTARTING = "restarting"
    FEEDBACK_SOLVED = "feedback_solved"
    FEEDBACK_NOT_HELPFUL = "feedback_not_helpful"
    THANKS_SOLVED = "thanks_solved"
    THANKS_NOT_HELPFUL = "thanks_not_helpful"
    GET_A_HUMAN = "get_a_human"
    ESCALATED_STATUS = "escalated_status"
    ALREADY_ESCALATED = "already_escalated"
    DESK_POST = "desk_post"
    DESK_TAKE = "desk_take"
    DESK_RESOLVE = "desk_resolve"
    DESK_TAKEN = "desk_taken"
    DESK_RESOLVED = "desk_resolved"
    TAKEN_STATUS = "taken_status"
    RESOLVED_STATUS = "resolved_status"
    RESOLVE_MODAL_TITLE = "resolve_modal_title"
    RESOLVE_MODAL_LABEL = "resolve_modal_label"
    RESOLVE_MODAL_SUBMIT = "resolve_modal_submit"
    NO_THREAD_TO_ESCALATE = "no_thread_to_escalate"
    ESCALATION_NOT_CONFIGURED = "escalation_not_configured"
    DRAWING_ON_PAST = "drawing_on_past"
    NO_RUNBOOK_MATCHED = "no_runbook_matched"
    NO_SOURCE_ANSWER = "no_source_answer"
    SOURCES_HEADING = "sources_heading"
    TICKET_OPENED = "ticket_opened"
    REASON_INFECTED = "reason_infected"
    REASON_SCAN_UNAVAILABLE = "reason_scan_unavailable"
    REASON_NO_LINK = "reason_no_link"
    ASSISTANT_GREETING = "assistant_greeting"
    PRESS_AGAIN = "press_again"
    PROMPTS_TITLE = "prompts_title"
    PROMPT_EXPLAIN_TITLE = "prompt_explain_title"
    PROMPT_EXPLAIN = "prompt_explain"
    PROMPT_BUILD_TITLE = "prompt_build_title"
    PROMPT_BUILD = "prompt_build"
    PROMPT_HUMAN_TITLE = "prompt_human_title"
    PROMPT_HUMAN = "prompt_human"
    REASON_ASPECT_RATIO = "reason_aspect_ratio"
    REASON_BAD_URL = "reason_bad_url"
    REASON_UNEXPECTED = "reason_unexpected"
    QUESTION_SHORTENED = "question_shortened"
    IMAGE_SHRUNK = "image_shrunk"
    TEXT_FILE_CUT = "text_file_cut"
    BUTTON_NO_LONGER_ACTIVE = "button_no_longer_active"
    COMMAND_NOT_AVAILABLE = "command_not_available"
    ESCALATION_WRONG_CHANNEL = "escalation_wrong_channel"
    ESCALATION_NOT_ON_CALL = "escalation_not_on_call"
    ESCALATION_NOT_OPEN = "escalation_not_open"
    ESCALATION_NOT_BOT_THREAD = "escalation_not_bot_thread"
    ESCALATION_RATE_LIMITED = "escalation_rate_limited"
    STEP_READING_SCREENSHOTS = "step_reading_screenshots"
    STEP_READING_FILE = "step_reading_file"
    STEP_WRITING = "step_writing"
    STEP_SEARCHING = "step_searching"
    STEP_SEARCHED = "step_searched"


_CATALOGUE: dict[Message, dict[Language, str]] = {
    Message.BUTTON_NO_LONGER_ACTIVE: {
        Language.ENGLISH: "This button is no longer active.",
        Language.CHINESE: "这个按钮已经失效了。",
    },
    Message.ESCALATION_WRONG_CHANNEL: {
        Language.ENGLISH: "Escalations are taken and resolved in the escalation channel only.",
        Language.CHINESE: "只能在升级频道里接手和解决升级的问题。",
    },
    Message.ESCALATION_NOT_ON_CALL: {
        Language.ENGLISH: "Sorry, only the on-call support group can take or resolve escalations.",
        Language.CHINESE: "抱歉，只有值班支持组的成员可以接手或解决升级的问题。",
    },
    Message.ESCALATION_NOT_OPEN: {
        Language.ENGLISH: "This thread is not escalated at the moment, so there is nothing "
        "to take or resolve.",
        Language.CHINESE: "这个话题目前没有升级，没有需要接手或解决的内容。",
    },
    Message.ESCALATION_NOT_BOT_THREAD: {
        Language.ENGLISH: "I can escalate only threads I have answered. Mention me there "
        "first, or press 🙋 under my answer.",
        Language.CHINESE: "我只能升级我回答过的话题。请先在那里提及我，或点击我回答下方的 🙋。",
    },
    Message.ESCALATION_RATE_LIMITED: {
        Language.ENGLISH: "You have escalated several threads in the last hour; please wait "
        "a while before escalating another.",
        Language.CHINESE: "你在过去一小时里已经升级了好几个话题，请稍后再升级新的话题。",
    },
    Message.COMMAND_NOT_AVAILABLE: {
        Language.ENGLISH: "That command is not available in this workspace.",
        Language.CHINESE: "这个工作区不支持这个命令。",
    },
    Message.PRESS_AGAIN: {
        Language.ENGLISH: "Slack took too long to open that form. Please press the button again.",
        Language.CHINESE: "Slack 打开表单超时了，请再按一次按钮。",
    },
    Message.ASSISTANT_GREETING: {
        Language.ENGLISH: "Hi! Paste an error screenshot or message and I'll explain what went "
        "wrong and how to fix it.",
        Language.CHINESE: "你好，贴一张报错截图或错误信息，我来解释出了什么问题以及怎么修。",
    },
    Message.PROMPTS_TITLE: {
        Language.ENGLISH: "Try one of these:",
        Language.CHINESE: "试试这些：",
    },
    Message.PROMPT_EXPLAIN_TITLE: {
        Language.ENGLISH: "Explain an error",
        Language.CHINESE: "解释一个报错",
    },
    Message.PROMPT_EXPLAIN: {
        Language.ENGLISH: "What does this error mean, and how do I fix it?",
        Language.CHINESE: "这个报错是什么意思？该怎么修？",
    },
    Message.PROMPT_BUILD_TITLE: {
        Language.ENGLISH: "My build fails",
        Language.CHINESE: "构建失败",
    },
    Message.PROMPT_BUILD: {
        Language.ENGLISH: "My build fails with this error:",
        Language.CHINESE: "我的构建失败了，报错如下：",
    },
    Message.PROMPT_HUMAN_TITLE: {
        Language.ENGLISH: "Talk to a person",
        Language.CHINESE: "联系人工",
    },
    Message.PROMPT_HUMAN: {
        Language.ENGLISH: "I want to talk to a human",
        Language.CHINESE: "转人工",
    },
    Message.WORKING_ON_SCREENSHOT: {
        Language.ENGLISH: "Looking at your screenshot…",
        Language.CHINESE: "正在查看你的截图…",
    },
    Message.WORKING: {
        Language.ENGLISH: "Looking into it…",
        Language.CHINESE: "正在分析…",
    },
    Message.DEFAULT_QUESTION: {
        Language.ENGLISH: "What is wrong and how do I fix it?",
        Language.CHINESE: "出了什么问题，怎么修复？",
    },
    Message.EMPTY_ANSWER: {
        Language.ENGLISH: (
            "I could not produce an answer for this one. Could you paste the error text "
            "or a clearer screenshot?"
        ),
        Language.CHINESE: "这次没能给出答案。能贴一下错误文本或更清晰的截图吗？",
    },
    Message.MODEL_UNAVAILABLE: {
        Language.ENGLISH: (
            "The diagnosis model is not available right now, so I cannot answer. "
            "The operators have been told in the logs; please try again later."
        ),
        Language.CHINESE: "诊断模型暂时不可用，无法回答。已记录在日志中，请稍后再试。",
    },
    Message.GENERATION_FAILED: {
        Language.ENGLISH: "Something went wrong while I was writing the answer. Please ask again.",
        Language.CHINESE: "生成回答时出错了，请再问一次。",
    },
    Message.INTERNAL_ERROR: {
        Language.ENGLISH: "Sorry, something went wrong on my side (reference {reference}).",
        Language.CHINESE: "抱歉，我这边出错了（编号 {reference}）。",
    },
    Message.SKIPPED_FILE: {
        Language.ENGLISH: "I could not read `{filename}`: {reason}",
        Language.CHINESE: "无法读取 `{filename}`：{reason}",
    },
    Message.REASON_HOST_NOT_ALLOWED: {
        Language.ENGLISH: "it is not hosted where I am allowed to download files from.",
        Language.CHINESE: "它不在允许下载的地址上。",
    },
    Message.REASON_TOO_LARGE: {
        Language.ENGLISH: "it is larger than the {limit_mb} MB limit.",
        Language.CHINESE: "文件超过了 {limit_mb} MB 的上限。",
    },
    Message.REASON_NOT_AN_IMAGE: {
        Language.ENGLISH: (
            "it is neither a PNG, JPEG, GIF or WebP image nor a text file "
            "(UTF-8, UTF-16 or GB 18030)."
        ),
        Language.CHINESE: "它既不是 PNG、JPEG、GIF 或 WebP 图片，也不是文本文件（UTF-8、UTF-16 或 GB 18030）。",
    },
    Message.REASON_LOGIN_PAGE: {
        Language.ENGLISH: (
            "Slack sent a web page instead of the file; the bot may be missing the "
            "`files:read` scope."
        ),
        Language.CHINESE: "Slack 返回的是网页而不是文件，机器人可能缺少 `files:read` 权限。",
    },
    Message.REASON_DOWNLOAD_FAILED: {
        Language.ENGLISH: "the download failed ({detail}).",
        Language.CHINESE: "下载失败（{detail}）。",
    },
    Message.REASON_CORRUPT: {
        Language.ENGLISH: "the image is damaged or truncated.",
        Language.CHINESE: "图片已损坏或不完整。",
    },
    Message.REASON_NOT_SHARED: {
        Language.ENGLISH: "Slack did not give me access to this file.",
        Language.CHINESE: "Slack 没有授权我访问这个文件。",
    },
    Message.REASON_TOO_MANY: {
        Language.ENGLISH: "only the first {limit} files of a message are read.",
        Language.CHINESE: "每条消息只读取前 {limit} 个文件。",
    },
    Message.REASON_TOO_MANY_PIXELS: {
        Language.ENGLISH: "the image is too large to decode safely ({pixels} pixels).",
        Language.CHINESE: "图片尺寸过大，无法安全解码（{pixels} 像素）。",
    },
    Message.WAITING_IN_LINE: {
        Language.ENGLISH: "{working} ({place} in line)",
        Language.CHINESE: "{working}（排在第 {number} 位）",
    },
    Message.RATE_LIMITED_USER: {
        Language.ENGLISH: (
            "You are asking faster than I can keep up with. Please try again in {seconds} s."
        ),
        Language.CHINESE: "你提问太快了，请 {seconds} 秒后再试。",
    },
    Message.RATE_LIMITED_CHANNEL: {
        Language.ENGLISH: (
            "This channel has asked a lot in a short time. Please try again in {seconds} s."
        ),
        Language.CHINESE: "这个频道短时间内提问太多了，请 {seconds} 秒后再试。",
    },
    Message.ENGINE_BUSY: {
        Language.ENGLISH: "I am busy with other questions. Please try again in about {seconds} s.",
        Language.CHINESE: "我正在处理其他问题，请大约 {seconds} 秒后再试。",
    },
    Message.QUEUE_TIMEOUT: {
        Language.ENGLISH: (
            "Too many questions were ahead of yours and I gave up waiting. Please ask again."
        ),
        Language.CHINESE: "排在你前面的问题太多，等待超时了，请再问一次。",
    },
    Message.GENERATION_TIMEOUT: {
        Language.ENGLISH: "Writing the answer took too long, so I stopped. Please ask again.",
        Language.CHINESE: "生成回答用时过长，已停止。请再问一次。",
    },
    Message.ANSWER_BROKE_OFF: {
        Language.ENGLISH: "The answer above is incomplete: {reason}",
        Language.CHINESE: "上面的回答不完整：{reason}",
    },
    Message.QUESTION_DELETED: {
        Language.ENGLISH: "The question was deleted, so I stopped answering it.",
        Language.CHINESE: "问题已被删除，已停止回答。",
    },
    Message.RESTARTING: {
        Language.ENGLISH: "I am restarting and could not finish this answer. Please ask again in a minute.",
        Language.CHINESE: "我正在重启，没能完成这个回答。请一分钟后再问一次。",
    },
    Message.FEEDBACK_SOLVED: {
        Language.ENGLISH: "✅ Solved",
        Language.CHINESE: "✅ 已解决",
    },
    Message.FEEDBACK_NOT_HELPFUL: {
        Language.ENGLISH: "👎 Not helpful",
        Language.CHINESE: "👎 没有帮助",
    },
    Message.THANKS_SOLVED: {
        Language.ENGLISH: "Thanks <@{user}>, glad it is solved. ✅",
        Language.CHINESE: "谢谢 <@{user}>，很高兴问题解决了。✅",
    },
    Message.THANKS_NOT_HELPFUL: {
        Language.ENGLISH: (
            "Thanks <@{user}>, noted. Tell me more about what you see, or paste the full error."
        ),
        Language.CHINESE: "谢谢 <@{user}>，已记录。可以再描述一下现象，或贴出完整的错误信息。",
    },
    Message.GET_A_HUMAN: {Language.ENGLISH: "🙋 Get a human", Language.CHINESE: "🙋 转人工"},
    Message.ESCALATED_STATUS: {
        Language.ENGLISH: (
            "🆘 <@{user}> asked for a person. The support team has been told and will reply "
            "here; I will stay quiet in this thread unless mentioned."
        ),
        Language.CHINESE: "🆘 <@{user}> 请求人工支持。已通知支持团队，他们会在这里回复；除非被提及，我不再发言。",
    },
    Message.ALREADY_ESCALATED: {
        Language.ENGLISH: "This thread is already with the support team.",
        Language.CHINESE: "这个话题已经转给支持团队了。",
    },
    Message.DESK_POST: {
        Language.ENGLISH: "{group}🆘 Escalation from <@{user}> in <#{channel}>: <{link}|open the thread>",
        Language.CHINESE: "{group}🆘 <@{user}> 在 <#{channel}> 请求人工：<{link}|打开话题>",
    },
    Message.DESK_TAKE: {Language.ENGLISH: "Take it", Language.CHINESE: "我来处理"},
    Message.DESK_RESOLVE: {Language.ENGLISH: "Mark resolved", Language.CHINESE: "标记为已解决"},
    Message.DESK_TAKEN: {
        Language.ENGLISH: "👤 Taken by <@{agent}>",
        Language.CHINESE: "👤 由 <@{agent}> 处理",
    },
    Message.DESK_RESOLVED: {
        Language.ENGLISH: "✅ Resolved by <@{agent}>: {resolution}",
        Language.CHINESE: "✅ 由 <@{agent}> 解决：{resolution}",
    },
    Message.TAKEN_STATUS: {
        Language.ENGLISH: "👤 <@{agent}> from the support team is looking at this now.",
        Language.CHINESE: "👤 支持团队的 <@{agent}> 正在处理。",
    },
    Message.RESOLVED_STATUS: {
        Language.ENGLISH: "✅ Resolved by <@{agent}>: {resolution}\nMention me if you need me again.",
        Language.CHINESE: "✅ 由 <@{agent}> 解决：{resolution}\n需要我时请再提及我。",
    },
    Message.RESOLVE_MODAL_TITLE: {
        Language.ENGLISH: "Mark resolved",
        Language.CHINESE: "标记为已解决",
    },
    Message.RESOLVE_MODAL_LABEL: {
        Language.ENGLISH: "How was it resolved? (one line)",
        Language.CHINESE: "是如何解决的？（一句话）",
    },
    Message.RESOLVE_MODAL_SUBMIT: {Language.ENGLISH: "Save", Language.CHINESE: "保存"},
    Message.NO_THREAD_TO_ESCALATE: {
        Language.ENGLISH: (
            "I found no conversation of yours with me in this channel to escalate. Slack does "
            "not allow slash commands inside threads: use the message shortcut "
            "“Escalate to support” there, or the 🙋 button under my answer."
        ),
        Language.CHINESE: "在这个频道没有找到你和我的对话。Slack 不支持在话题里使用斜杠命令：请在话题中使用消息快捷方式“转给支持团队”，或点击我回答下方的 🙋 按钮。",
    },
    Message.ESCALATION_NOT_CONFIGURED: {
        Language.ENGLISH: "Escalation is not set up in this workspace (no escalation channel).",
        Language.CHINESE: "这个工作区没有配置人工支持（缺少升级频道）。",
    },
    Message.DRAWING_ON_PAST: {
        Language.ENGLISH: "📚 Drawing on {count} past resolution(s) from your team ({dates}).",
        Language.CHINESE: "📚 参考了团队过去的 {count} 个解决记录（{dates}）。",
    },
    Message.NO_RUNBOOK_MATCHED: {
        Language.ENGLISH: "No runbook matched this question; the answer is from general knowledge.",
        Language.CHINESE: "没有找到与此问题匹配的运维手册；以下回答来自通用知识。",
    },
    Message.NO_SOURCE_ANSWER: {
        Language.ENGLISH: (
            "I found nothing in this channel's knowledge base about this, and here I answer "
            "only from a source. Escalate it to the team and a person will take a look."
        ),
        Language.CHINESE: "本频道的知识库里没有与此相关的内容，而这里只根据资料作答。请升级给团队，会有人来处理。",
    },
    Message.SOURCES_HEADING: {
        Language.ENGLISH: "Sources:",
        Language.CHINESE: "参考资料：",
    },
    Message.TICKET_OPENED: {
        Language.ENGLISH: "🎫 Helpdesk ticket {ticket} opened with the transcript and screenshots.",
        Language.CHINESE: "🎫 已创建工单 {ticket}，附上了对话记录和截图。",
    },
    Message.REASON_INFECTED: {
        Language.ENGLISH: "the virus scanner flagged it, so I did not open it.",
        Language.CHINESE: "病毒扫描发现了问题，所以没有打开它。",
    },
    Message.REASON_NO_LINK: {
        Language.ENGLISH: "the helpdesk's webhook named this file without a link I can download.",
        Language.CHINESE: "帮助台的 webhook 提到了这个文件，但没有给出可下载的链接。",
    },
    Message.REASON_SCAN_UNAVAILABLE: {
        Language.ENGLISH: "the virus scanner is unavailable, and files are not opened unscanned.",
        Language.CHINESE: "病毒扫描暂时不可用，未经扫描的文件不会被打开。",
    },
    Message.REASON_ASPECT_RATIO: {
        Language.ENGLISH: "at {width} x {height} pixels it is too long and thin to read (one side may be at most {limit} times the other).",
        Language.CHINESE: "图片为 {width} x {height} 像素，过于细长，无法读取（长边最多为短边的 {limit} 倍）。",
    },
    Message.REASON_BAD_URL: {
        Language.ENGLISH: "its address is malformed, so it was not downloaded.",
        Language.CHINESE: "它的地址格式不正确，因此没有下载。",
    },
    Message.REASON_UNEXPECTED: {
        Language.ENGLISH: "something went wrong reading it (reference {reference}).",
        Language.CHINESE: "读取时出错（编号 {reference}）。",
    },
    Message.QUESTION_SHORTENED: {
        Language.ENGLISH: "Your message was long ({total} characters), so I read its first and last parts ({kept} characters); paste the key lines if I missed them.",
        Language.CHINESE: "你的消息很长（{total} 个字符），我只读了开头和结尾部分（{kept} 个字符）；如有遗漏，请贴出关键几行。",
    },
    Message.IMAGE_SHRUNK: {
        Language.ENGLISH: (
            "`{filename}` was shown to me at {percent}% of its usual size so that all {count} "
            "images fit; small text in it may be unreadable. Send fewer images at once, or crop "
            "to the error, if I miss something."
        ),
        Language.CHINESE: (
            "为了同时查看全部 {count} 张图片，`{filename}` 被缩小到平常的 {percent}%，"
            "其中的小字可能看不清。如有遗漏，请少发几张或只截取错误部分。"
        ),
    },
    Message.TEXT_FILE_CUT: {
        Language.ENGLISH: (
            "`{filename}` is long ({lines} lines), so I read its start, the lines around "
            "the first error and its end."
        ),
        Language.CHINESE: "`{filename}` 较长（{lines} 行），我读取了开头、第一个错误附近和结尾部分。",
    },
    Message.STEP_READING_SCREENSHOTS: {
        Language.ENGLISH: "Reading {count} screenshot(s)",
        Language.CHINESE: "正在读取 {count} 张截图",
    },
    Message.STEP_READING_FILE: {
        Language.ENGLISH: "Reading {filename}",
        Language.CHINESE: "正在读取 {filename}",
    },
    Message.STEP_WRITING: {
        Language.ENGLISH: "Writing the answer",
        Language.CHINESE: "正在撰写回答",
    },
    Message.STEP_SEARCHING: {
        Language.ENGLISH: "Searching runbooks",
        Language.CHINESE: "正在搜索运维手册",
    },
    Message.STEP_SEARCHED: {
        Language.ENGLISH: "Searching runbooks: {count} found",
        Language.CHINESE: "搜索运维手册：找到 {count} 篇",
    },
}

# Han ideographs, kana-free: enough to tell a Chinese question from an English one.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def detect_language(text: str) -> Language:
    """Chinese when the text holds Han characters, English otherwise."""
    return Language.CHINESE if _HAN.search(text) else Language.ENGLISH


def ordinal(number: int, language: Language) -> str:
    """1st, 2nd, 3rd, 4th… (English); the bare number for Chinese, whose sentence adds 第…位."""
    if language is Language.CHINESE:
        return str(number)
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"


def language_of_locale(locale: str | None) -> Language | None:
    """Slack's user locale (`zh-CN`, `en-US`) as one of our languages, None when unknown."""
    if not locale:
        return None
    if locale.lower().startswith("zh"):
        return Language.CHINESE
    return Language.ENGLISH if locale.lower().startswith("en") else None


def say(message: Message, language: Language = Language.ENGLISH, **values: object) -> str:
    """The user-facing sentence for `message` in `language`, with `values` filled in.

    Example:
        >>> say(Message.REASON_TOO_LARGE, Language.ENGLISH, limit_mb=20)
        'it is larger than the 20 MB limit.'
    """
    return _CATALOGUE[message][language].format(**values)
