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
