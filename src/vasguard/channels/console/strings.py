"""Every word the console and the customer's page show, in Chinese and English.

One table, so a translation is one line and a string missing in either language fails
the test that reads this table (``tests/browser`` and ``tests/test_console.py``).
Templates ask for a string by key; a refusal the services raise is shown by its code
when the table has it, otherwise in the service's own (English) words.
"""

from __future__ import annotations

from typing import Literal, get_args

from vasguard.domain.refusals import Refused

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "zh"

TEXTS: dict[str, tuple[str, str]] = {
    # key: (中文, English)
    "app_name": ("vasguard 增值业务管理台", "vasguard VAS console"),
    "lang_other": ("English", "中文"),
    "login_title": ("登录", "Log in"),
    "login_key": ("API 密钥", "API key"),
    "login_key_hint": (
        "运营或客服角色的密钥（vasguard keys create）",
        "An operator or care key (vasguard keys create)",
    ),
    "login_submit": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "logged_out": ("已退出。", "You are logged out."),
    "session_ended": (
        "会话已结束（已退出、过期或密钥已吊销），请重新登录。",
        "Your session has ended (logged out, expired or key revoked); please log in again.",
    ),
    "csrf_failed": (
        "表单已失效，请刷新页面后重试。",
        "This form has expired; reload the page and try again.",
    ),
    "console_bad_key": (
        "密钥无效、已吊销或输入有误。",
        "This key is unknown, revoked or mistyped.",
    ),
    "console_not_staff": (
        "合作伙伴和网关的密钥不能登录管理台，只有运营和客服的密钥可以。",
        "Partner and gateway keys cannot log in to the console; only operator and care keys can.",
    ),
    "signed_in_as": ("当前用户", "Signed in as"),
    "role_operator": ("运营", "operator"),
    "role_care": ("客服", "care"),
    "nav_home": ("首页", "Home"),
    "nav_phone": ("手机模拟器", "Phone simulator"),
    "nav_dashboard": ("总览", "Dashboard"),
    "nav_subscribers": ("用户查询", "Subscribers"),
    "nav_partners": ("合作伙伴", "Partners"),
    "nav_soon": ("即将推出", "coming soon"),
    "home_intro": (
        "在手机模拟器里以用户身份发短信（经内置短信中心），查看用户收到的回复。",
        "Text the service number as a subscriber would (through the built-in SMSC) "
        "and see the replies the handset gets.",
    ),
    "phone_title": ("手机模拟器", "Phone simulator"),
    "phone_number": ("手机号码", "Phone number"),
    "phone_open": ("打开", "Open"),
    "phone_recent": ("最近打开", "Recently opened"),
    "phone_some": ("或选一个用户", "Or pick a subscriber"),
    "phone_pick": ("输入一个用户的号码。", "Type a subscriber's number."),
    "phone_message": ("短信内容", "Message"),
    "phone_send": ("发送", "Send"),
    "phone_to": ("发往", "to"),
    "phone_empty": ("还没有短信。", "No messages yet."),
    "phone_queued": ("待发送", "queued"),
    "phone_loopback_only": (
        "手机模拟器只在使用内置短信中心时可用：接入真实短信中心时，员工代发的短信等于伪造用户的同意。",
        "The phone simulator works only with the built-in SMSC: with a real SMSC, a message "
        "typed by staff would be forged consent.",
    ),
    "phone_sent_note": (
        "经内置短信中心发出，和用户手机发出的一样处理。",
        "Goes through the built-in SMSC and is handled like a handset's.",
    ),
    "invalid_msisdn": ("这不是一个有效的手机号码。", "That is not a valid mobile number."),
    "unknown_subscriber": ("本网没有这个用户。", "That number is not one of our subscribers."),
    "empty_message": ("短信内容不能为空。", "The message is empty."),
    "message_too_long": ("短信太长（最多 500 字）。", "The message is too long (500 at most)."),
    "not_found": ("没有这个页面。", "There is no such page."),
    # --- the subscriber page and a charge's evidence chain
    "subs_title": ("用户查询", "Subscribers"),
    "subs_look_up": ("查询", "Look up"),
    "subs_any_form": (
        "可输入11位号码，或带 +86、0086、86 前缀的号码。",
        "Type the 11 digits, or the number with +86, 0086 or 86 in front.",
    ),
    "subs_province": ("省份", "Province"),
    "subs_language": ("语言", "Language"),
    "subs_status": ("状态", "Status"),
    "subs_plans": ("套餐记录", "Plan history"),
    "subs_ordered": ("办理于", "ordered"),
    "subs_open_ended": ("至今", "open-ended"),
    "subs_subscriptions": ("订购关系", "Subscriptions"),
    "subs_charges": ("扣费记录", "Charges"),
    "subs_timeline": ("时间线（最新在前）", "Timeline (newest first)"),
    "subs_older": ("更早的记录", "Older entries"),
    "subs_newest": ("最新的记录", "Newest entries"),
    "subs_none": ("无。", "None."),
    "subs_act": ("客服操作", "Care actions"),
    "subs_cancel": ("退订", "Cancel"),
    "subs_complain": ("登记投诉", "Open a complaint"),
    "subs_complaint_text": ("投诉内容（原因）", "The complaint (its reason)"),
    "reason": ("原因", "Reason"),
    "reason_needed": ("请填写原因。", "Give a reason."),
    "reason_too_long": ("原因太长（最多 500 字）。", "The reason is too long (500 at most)."),
    "not_allowed": ("当前密钥无权执行此操作。", "This key may not do that."),
    "cancelled_done": ("已退订，用户将收到短信通知。", "Cancelled; the customer is told by SMS."),
    "complaint_done": ("投诉已登记，相关扣费已冻结。", "Complaint opened; its charges are held."),
    "entry_mo": ("上行短信", "MO"),
    "entry_mt": ("下行短信", "MT"),
    "entry_event": ("状态变更", "State change"),
    "entry_charge": ("扣费", "Charge"),
    "entry_refund": ("退款", "Refund"),
    "entry_complaint": ("投诉", "Complaint"),
    "charge_title": ("扣费证据链", "Charge evidence"),
    "charge_refund": ("全额退款", "Refund in full"),
    "link_order": ("订购", "Order"),
    "link_plan_order": ("套餐办理", "Plan order"),
    "link_request": ("二次确认短信", "Confirmation request MT"),
    "link_confirmation": ("用户确认回复", "Customer's confirming MO"),
    "link_reminder": ("扣费提醒短信", "Reminder MT"),
    "link_receipt": ("提醒送达回执", "Reminder delivery receipt"),
    "link_bill_run": ("出账批次", "Bill run"),
    "link_charge": ("扣费", "Charge"),
    "link_refund": ("退款", "Refund"),
    "link_hold": ("投诉冻结", "Held by complaint"),
    # dashboard and partner scorecards
    "dash_title": ("业务总览", "Dashboard"),
    "dash_first": ("开始日期", "From"),
    "dash_last": ("结束日期", "To"),
    "dash_province": ("省份", "Province"),
    "dash_partner": ("合作伙伴", "Partner"),
    "dash_show": ("查看", "Show"),
    "dash_last_days": ("最近 {n} 天", "Last {n} days"),
    "dash_refreshed": ("数据统计于", "figures counted at"),
    "dash_never": ("尚未统计（vasguard jobs figures）", "not counted yet (vasguard jobs figures)"),
    "dash_totals": ("合计", "Totals"),
    "dash_confirmation_rate": ("确认率", "Confirmation rate"),
    "dash_delivery_rate": ("提醒送达率", "Reminder delivery rate"),
    "dash_flagged": ("本月被标记的合作伙伴", "Partners flagged this month"),
    "dash_chart_activity": (
        "订购、确认与退订（按日）",
        "Orders, confirmations and cancellations by day",
    ),
    "dash_chart_reminders": (
        "扣费提醒发送与送达（按日）",
        "Charge reminders sent and delivered by day",
    ),
    "dash_chart_money": ("扣费与退款（元，按日）", "Charges and refunds (yuan) by day"),
    "dash_chart_provinces": ("各省订购与确认", "Orders and confirmations by province"),
    "dash_by_day": ("按日", "By day"),
    "dash_by_province": ("按省份", "By province"),
    "dash_by_partner": ("按合作伙伴（订购最多的 20 家）", "By partner (the 20 with most orders)"),
    "dash_more_partners": ("另有 {n} 家合作伙伴未列出。", "{n} more partners not shown."),
    "dash_day": ("日期", "Day"),
    "dash_no_figures": ("这段时间没有数据。", "No figures for these days."),
    "fig_orders": ("订购", "Orders"),
    "fig_confirmations": ("确认", "Confirmations"),
    "fig_reminders_sent": ("提醒已发送", "Reminders sent"),
    "fig_reminders_delivered": ("提醒已送达", "Reminders delivered"),
    "fig_reminder_cancels": ("提醒后退订", "Cancelled after reminder"),
    "fig_listings": ("0000 查询", "0000 listings"),
    "fig_listing_cancels": ("0000 退订", "Cancelled via 0000"),
    "fig_cancellations": ("退订", "Cancellations"),
    "fig_complaints": ("投诉", "Complaints"),
    "fig_charges": ("扣费笔数", "Charges"),
    "fig_refunds": ("退款笔数", "Refunds"),
    "fig_held": ("在订", "Held"),
    "fig_charges_yuan": ("扣费（元）", "Charged (yuan)"),
    "fig_refunds_yuan": ("退款（元）", "Refunded (yuan)"),
    "flag_low_confirmation": ("确认率低", "low confirmation"),
    "flag_reminder_cancels": ("提醒后退订多", "cancelled after reminder"),
    "flag_listing_cancels": ("0000 退订多", "cancelled via 0000"),
    "flag_complaints": ("投诉多", "complaints"),
    "cards_title": ("合作伙伴评分卡", "Partner scorecards"),
    "cards_period": ("月份", "Month"),
    "cards_thresholds": ("标记条件：", "Flagged when:"),
    "cards_min_orders": ("订购不少于", "orders at least"),
    "cards_complaints_per_1000": ("每千在订投诉", "Complaints per 1,000 held"),
    "cards_flags": ("标记", "Flags"),
    "cards_more": (
        "仅列出 200 家：先被标记的，再按订购量（全部见 GET /api/v1/reports/partners）。",
        "200 shown: flagged first, then by orders (all: GET /api/v1/reports/partners).",
    ),
    "cards_flagged_count": ("{n} 家合作伙伴被标记。", "{n} partners flagged."),
    "scorecards_operator_only": (
        "评分卡仅限运营人员查看。",
        "Scorecards are for operator staff only.",
    ),
    # bill runs and catalogue
    "nav_bill_runs": ("出账", "Bill runs"),
    "nav_catalogue": ("业务目录", "Catalogue"),
    "page_next": ("下一页", "Next page"),
    "bill_runs_title": ("出账批次", "Bill runs"),
    "bill_run_title": ("出账批次", "Bill run"),
    "bill_period": ("账期", "Period"),
    "bill_start": ("启动出账", "Start the bill run"),
    "bill_start_hint": (
        "按 YYYY-MM 填写账期，以当前时间出账；可重复启动，已扣的费用不会重复扣。",
        "Type the period as YYYY-MM; it is billed as of now. Starting it again never "
        "charges anything twice.",
    ),
    "bill_operator_starts": (
        "只有运营角色可以启动出账；您可以查看出账进度和结果。",
        "Only an operator key starts bill runs; you may follow them and read their results.",
    ),
    "bill_operator_only": (
        "只有运营角色可以启动出账，未启动任何出账。",
        "Only an operator key may start a bill run; nothing was started.",
    ),
    "bill_bad_period": (
        "账期格式不对：请按 YYYY-MM 填写，例如 2026-11（1970-01 至 2999-12）。未启动任何出账。",
        "That is not a period: type YYYY-MM, e.g. 2026-11 (1970-01 to 2999-12). Nothing "
        "was started.",
    ),
    "not_billable_yet": (
        "该账期尚未开始，不能出账。未启动任何出账。",
        "That period has not begun yet, so it cannot be billed; nothing was started.",
    ),
    "period_being_billed": (
        "另一个出账批次正在处理该账期，请稍后再看。未启动新的出账。",
        "Another bill run is billing that period; look again later. Nothing was started.",
    ),
    "unknown_bill_run": ("没有这个出账批次。", "There is no such bill run."),
    "bill_filter": ("筛选", "Filter"),
    "bill_none": ("还没有出账批次。", "No bill runs yet."),
    "bill_status": ("状态", "Status"),
    "bill_status_running": ("出账中", "running"),
    "bill_status_finished": ("已完成", "finished"),
    "bill_status_failed": ("已中止（由后来的批次接替）", "stopped (taken over by a later run)"),
    "bill_started": ("开始", "started"),
    "bill_finished": ("结束", "finished"),
    "bill_cursor": ("已处理到用户编号", "Done up to subscriber id"),
    "bill_charged": ("扣费笔数", "charges"),
    "bill_amount": ("扣费金额（元）", "Charged (yuan)"),
    "bill_running_note": (
        "正在出账，本页自动更新进度，完成后显示汇总和稽核结果。",
        "Running: this page follows its progress and shows the summary and the audit when "
        "it is done.",
    ),
    "bill_by_kind": ("按类型扣费（笔数 · 金额）", "Charged by kind (count · amount)"),
    "bill_skipped": ("未扣费（按原因）", "Not charged, by reason"),
    "bill_exempt": ("免提醒业务的扣费", "Reminder-exempt services charged"),
    "bill_audit": ("稽核结果", "The audit"),
    "audit_clean": ("无违规。", "No violations."),
    "audit_checked": ("共核查 {charges} 笔扣费。", "{charges} charges checked."),
    "audit_violations": ("发现 {count} 条违规。", "{count} violations found."),
    "audit_more": (
        "只列出前一部分违规，全部请用 vasguard audit 查看。",
        "Only the first violations are listed; vasguard audit lists them all.",
    ),
    "cat_title": ("业务目录与免提醒", "Catalogue and exemptions"),
    "cat_search": ("业务代码前缀或名称", "Code prefix or name"),
    "cat_search_submit": ("搜索", "Search"),
    "cat_found": ("业务", "Services"),
    "cat_none": ("没有符合的业务。", "No services match."),
    "cat_yuan": ("元", "yuan"),
    "cat_exemption": ("免提醒原因", "exempt"),
    "cat_exempt_title": ("免扣费提醒的业务", "Services exempt from the charge reminder"),
    "cat_read_only": (
        "只有运营角色可以修改免提醒。",
        "Only an operator key may change exemptions.",
    ),
    "cat_edit": ("免提醒设置", "Exemption"),
    "cat_reason": ("免提醒原因（为什么扣费提醒无法覆盖）", "Why the reminder cannot cover it"),
    "cat_set": ("设为免提醒", "Exempt it"),
    "cat_end": ("取消免提醒", "End the exemption"),
    "cat_set_done": ("已设为免提醒。", "The exemption is set."),
    "cat_end_done": (
        "已取消免提醒，扣费提醒将覆盖该业务。",
        "The exemption has ended; the charge reminder covers the service again.",
    ),
    "cat_operator_only": (
        "只有运营角色可以修改免提醒，未做任何修改。",
        "Only an operator key may change exemptions; nothing was changed.",
    ),
    "unknown_service": ("没有这个业务代码。", "There is no service with that code."),
    # --- the customer's own page (/my)
    "my_title": ("我的增值业务", "My value-added services"),
    "my_intro": (
        "输入手机号码，我们会从10086发送一条免费短信验证码。",
        "Type your mobile number and we will text you a free code from 10086.",
    ),
    "my_send_code": ("获取验证码", "Text me a code"),
    "my_code": ("短信验证码", "Code from the SMS"),
    "my_code_sent": (
        "如果这是本网号码，验证码已发送，{minutes}分钟内有效，可试5次。",
        "If this is one of our numbers, a code is on its way; it is good for {minutes} "
        "minutes and 5 tries.",
    ),
    "my_log_in": ("登录", "Log in"),
    "my_other_number": ("换一个号码", "Use another number"),
    "my_held": ("您目前订购的包月增值业务", "Your monthly value-added services"),
    "my_none": ("您目前没有订购任何包月增值业务。", "You have no monthly value-added services."),
    "my_service": ("业务", "Service"),
    "my_provider": ("提供方", "Provider"),
    "my_price": ("资费", "Price"),
    "my_per_month": ("/月", "/month"),
    "my_group": ("集团统付", "paid by your group"),
    "my_cancel_chosen": ("退订所选业务", "Cancel the chosen services"),
    "my_cancel_all": ("全部退订", "Cancel them all"),
    "my_confirm_title": ("确认退订", "Confirm the cancellation"),
    "my_confirm_text": (
        "以下业务将被退订，退订后不再收取费用：",
        "These services will be cancelled, with no further charges:",
    ),
    "my_confirm": ("确认退订", "Yes, cancel them"),
    "my_back": ("返回", "Back"),
    "my_done": ("已退订：", "Cancelled:"),
    "my_already": ("此前已退订：", "Already cancelled:"),
    "my_same_as_0000": (
        "与发送0000查询的结果相同。",
        "The same list a 0000 text gets.",
    ),
    "code_too_soon": (
        "验证码刚刚发过，请稍后再试，或使用已收到的验证码。",
        "A code was sent a moment ago: use it, or ask again a little later.",
    ),
    "address_too_many": (
        "从这里获取验证码的次数太多，请一小时后再试。",
        "Too many codes were asked for from here; try again in an hour.",
    ),
    "code_wrong": ("验证码不正确，请重试。", "That code is not right; try again."),
    "code_none": (
        "没有可用的验证码（已过期、已使用或错误次数过多），请重新获取。",
        "No code is waiting (expired, used, or too many wrong tries): ask for a new one.",
    ),
    "nothing_chosen": ("请至少选择一项业务。", "Choose at least one service."),
    "not_listed": (
        "所选业务已不在列表中（可能已退订），未办理任何业务，请查看最新列表。",
        "A chosen service is no longer on your list (cancelled meanwhile?); nothing was "
        "changed: look at the list again.",
    ),
}


def text(language: Language, key: str, **values: object) -> str:
    """The string ``key`` in ``language``, with ``values`` filled in."""
    zh, en = TEXTS[key]
    chosen = zh if language == "zh" else en
    return chosen.format(**values) if values else chosen


def language_of(value: str | None) -> Language:
    """A language the console speaks, from a cookie or a form; Chinese by default."""
    for language in LANGUAGES:
        if value == language:
            return language
    return DEFAULT_LANGUAGE


def refusal_text(language: Language, refused: Refused) -> str:
    """What to show for a refusal: this table's words for its code, else its own."""
    return text(language, refused.code) if refused.code in TEXTS else refused.detail
